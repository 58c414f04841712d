import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import pino from 'pino';
import { ListDeadLettersRequest, VerifyChainRequest } from '../../generated/audit/v1/audit_service.js';
import { bearer, SECRET, token } from '../support/security.js';
import { makeEvent, startServer } from '../support/server.js';

interface RpcLine { msg: string; rpc?: string; code?: string; ms?: number; caller?: string }

type Unary = (request: object, metadata: Metadata, callback: (err: ServiceError | null) => void) => void;

/** Every unary RPC goes through one pipeline: authenticate, authorize, run, map the error, one log line. */
test('every RPC is authenticated, authorized and logged by the one pipeline, with the status it answered', async () => {
  const lines: RpcLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as RpcLine) });
  const server = await startServer({ security: { enabled: true, jwt: { secret: SECRET } } }, { logger });
  try {
    const reader = bearer(await token('reader-1', ['auditor'])).metadata;
    const admin = bearer(await token('admin-1', ['admin'])).metadata;
    const client = server.client as unknown as Record<string, Unary>;
    const call = (method: string, request: object, metadata: Metadata): Promise<number> =>
      new Promise((resolve) => client[method]!.call(server.client, request, metadata, (err) => resolve(err ? err.code : status.OK)));

    // [rpc, request, metadata, expected status]: the permission check is the pipeline's, not each handler's.
    const cases: Array<[string, object, Metadata, status]> = [
      ['publish', { event: makeEvent() }, reader, status.PERMISSION_DENIED],
      ['publish', { event: makeEvent() }, admin, status.OK],
      ['verifyChain', VerifyChainRequest.fromPartial({}), reader, status.PERMISSION_DENIED],
      ['verifyChain', VerifyChainRequest.fromPartial({}), admin, status.OK],
      ['listDeadLetters', ListDeadLettersRequest.fromPartial({}), reader, status.PERMISSION_DENIED],
      ['listDeadLetters', ListDeadLettersRequest.fromPartial({}), admin, status.FAILED_PRECONDITION],
      ['getStats', {}, new Metadata(), status.UNAUTHENTICATED],
      ['listSubscriptions', {}, reader, status.OK],
    ];
    for (const [method, request, metadata, expected] of cases) {
      const before = lines.length;
      assert.equal(await call(method, request, metadata), expected, method);
      const logged = lines.slice(before).filter((l) => l.msg === 'rpc');
      assert.equal(logged.length, 1, `${method}: one line per call`);
      const rpc = method[0]!.toUpperCase() + method.slice(1);
      assert.equal(logged[0]!.rpc, rpc);
      assert.equal(logged[0]!.code, expected === status.OK ? 'OK' : String(expected));
      assert.equal(typeof logged[0]!.ms, 'number');
      if (expected !== status.UNAUTHENTICATED) assert.match(logged[0]!.caller ?? '', /^(reader|admin)-1$/);
    }
  } finally {
    await server.close();
  }
});
