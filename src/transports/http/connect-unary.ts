import { Metadata, status, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { AuthContext } from '@grpc/grpc-js/build/src/auth-context.js';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { AuditServiceService, type AuditServiceServer } from '../../../generated/audit/v1/audit_service.js';
import { AppError } from '../../domain/errors.js';
import type { Logger } from '../../observability/logger.js';
import { withCheckedRequests } from '../grpc/request-decoding.js';
import { AUDIT_SERVICE_NAME } from '../grpc/server.js';
import { toGrpcError } from '../grpc/status.js';
import { bytesToJson, connectCode, jsonToBytes, METHODS } from './connect-codec.js';
import { track } from './deps.js';

/**
 * JSON over HTTP for every unary RPC, in the Connect protocol's unary form:
 * `POST /audit.v1.AuditService/Publish` with `Content-Type: application/json` and the request message
 * as proto JSON; the answer is the response message as canonical proto JSON, or a Connect error
 * `{"code":"invalid_argument","message":"..."}` with Connect's HTTP status. (`application/proto`, the
 * binary form, is served too, so a Connect client works with either codec.)
 *
 * Nothing about a call is decided here: the request becomes the very protobuf bytes a gRPC client
 * would send, goes through the gRPC transport's request check (request-decoding.ts), and is handed to
 * the same handler functions createAuditService returns, with an adapter standing in for grpc-js's
 * ServerUnaryCall (the Authorization header as `authorization` metadata, the verified client
 * certificate as the auth context). Authentication, roles, redaction, rate limits and input limits
 * are therefore exactly the gRPC ones.
 */

export const RPC_PREFIX = `/${AUDIT_SERVICE_NAME}/`;

/** grpc.max_receive_message_length of the gRPC server: the same bound for a request body. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

const JSON_TYPE = 'application/json';
const PROTO_TYPE = 'application/proto';

export interface UnaryRpcDeps {
  readonly service?: AuditServiceServer | undefined;
  readonly log: Logger;
  /** Open requests, so shutdown waits for calls in flight as the gRPC server does. */
  readonly streams: Set<Promise<void>>;
}

type Handler = (call: unknown, callback: (err: Partial<ServiceError> | null, value?: unknown) => void) => void;
interface Entry {
  readonly handler: Handler;
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly serialize: (value: unknown) => Buffer;
}

/** The checked handlers of each service implementation (one per server, built on its first request). */
const prepared = new WeakMap<AuditServiceServer, ReadonlyMap<string, Entry>>();

function protoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'proto', 'audit'))) return path.join(dir, 'proto');
  }
  throw new Error('proto/ folder not found');
}

function entries(service: AuditServiceServer): ReadonlyMap<string, Entry> {
  let map = prepared.get(service);
  if (!map) {
    const checked = withCheckedRequests(AuditServiceService, service as unknown as UntypedServiceImplementation, {
      root: protoRoot(), files: ['audit/v1/audit_service.proto'], service: AUDIT_SERVICE_NAME,
    });
    const built = new Map<string, Entry>();
    for (const method of METHODS.values()) {
      if (method.methodKind !== 'unary') continue;
      const definition = checked.definition[method.localName as keyof typeof AuditServiceService];
      built.set(method.name, {
        handler: checked.implementation[method.localName] as unknown as Handler,
        deserialize: definition.requestDeserialize,
        serialize: definition.responseSerialize as (value: unknown) => Buffer,
      });
    }
    map = built;
    prepared.set(service, map);
  }
  return map;
}

/** Writes a Connect error: its JSON body, HTTP status, and the gRPC trailers as `trailer-` headers (a retry hint also as Retry-After). */
function sendConnectError(res: ServerResponse, err: Partial<ServiceError>, http: { status?: number | undefined; headers?: Record<string, string> | undefined } = {}): void {
  const { name, httpStatus } = connectCode(err.code);
  const extraHeaders = http.headers ?? {};
  const headers: Record<string, string> = { 'content-type': JSON_TYPE, 'cache-control': 'no-store', ...extraHeaders };
  for (const [key, values] of Object.entries(err.metadata?.getMap() ?? {})) headers[`trailer-${key}`] = String(values);
  const retryMs = Number(err.metadata?.get('retry-after-ms')[0]);
  if (Number.isFinite(retryMs) && retryMs >= 0) headers['retry-after'] = String(Math.max(1, Math.ceil(retryMs / 1000)));
  if (name === 'unauthenticated') headers['www-authenticate'] = 'Bearer realm="auditstream"';
  const body = JSON.stringify(err.details ? { code: name, message: err.details } : { code: name });
  headers['content-length'] = String(Buffer.byteLength(body));
  if (res.headersSent) res.end();
  else res.writeHead(http.status ?? httpStatus, headers).end(body);
}

/** toGrpcError, which cannot fail the request a second time (grpc-js refuses non-ASCII metadata values). */
function safeStatus(err: unknown, log: Logger): Partial<ServiceError> {
  try {
    return toGrpcError(err, log);
  } catch (failure) {
    log.error({ err, failure }, 'could not map an error to a status');
    return { code: status.INTERNAL, details: 'internal error' };
  }
}

/** A refusal before any handler runs; `httpStatus` where Connect says something other than the code's own status. */
function refuse(res: ServerResponse, code: status, message: string, httpStatus?: number, headers?: Record<string, string>): void {
  sendConnectError(res, { code, details: message }, { status: httpStatus, headers });
}

/** The body, or undefined once it passes `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    // A client gone mid-body: nothing to answer; settles the call so nothing waits on it.
    req.once('close', () => reject(new AppError('UNAVAILABLE', 'the client closed the request before sending all of it')));
  });
}

/** What the handlers use of grpc-js's ServerUnaryCall, taken from the HTTP request. */
function unaryCall(req: IncomingMessage, res: ServerResponse, request: unknown, rpcPath: string): EventEmitter {
  const metadata = new Metadata();
  try {
    if (req.headers.authorization !== undefined) metadata.set('authorization', req.headers.authorization);
  } catch {
    // grpc-js takes printable ASCII only; a token never has anything else.
    throw new AppError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
  }
  const socket = req.socket as Partial<TLSSocket>;
  const call = Object.assign(new EventEmitter(), {
    request,
    metadata,
    cancelled: false,
    getPeer: () => (socket.remoteAddress?.includes(':') ? `[${socket.remoteAddress}]:${socket.remotePort}` : `${socket.remoteAddress}:${socket.remotePort}`),
    getPath: () => rpcPath,
    getHost: () => req.headers.host ?? '',
    getDeadline: () => Infinity,
    sendMetadata: () => undefined,
    getAuthContext: (): AuthContext => {
      if (!socket.encrypted) return {};
      // As the HTTP bridges do (auth.ts): only a certificate that verified against the client CA counts.
      const certificate = socket.authorized && socket.getPeerCertificate ? socket.getPeerCertificate() : undefined;
      return certificate?.raw ? { transportSecurityType: 'ssl', sslPeerCertificate: certificate } : { transportSecurityType: 'ssl' };
    },
  });
  res.once('close', () => {
    if (res.writableFinished) return;
    call.cancelled = true;
    call.emit('cancelled');
  });
  return call;
}

/**
 * Serves `POST /audit.v1.AuditService/<Method>`. Streaming methods and other content types are refused
 * with a Connect error saying what to use instead.
 */
export function serveUnaryRpc(req: IncomingMessage, res: ServerResponse, pathname: string, serving: boolean, deps: UnaryRpcDeps): void {
  const name = pathname.slice(RPC_PREFIX.length);
  const method = METHODS.get(name);
  if (!deps.service || !method) {
    refuse(res, status.UNIMPLEMENTED, `${AUDIT_SERVICE_NAME} has no method ${JSON.stringify(name.slice(0, 100))}`, 404);
    return;
  }
  if (method.methodKind !== 'unary') {
    const instead = name === 'Subscribe' ? 'gRPC, SSE (GET /v1/events) or the WebSocket (/v1/stream)' : 'gRPC';
    refuse(res, status.UNIMPLEMENTED, `${name} is a server-streaming RPC, not served as JSON over HTTP: use ${instead}`, 415);
    return;
  }
  if (req.method !== 'POST') {
    refuse(res, status.UNIMPLEMENTED, `only POST is served at ${pathname}`, 405, { allow: 'POST' });
    return;
  }
  const [mediaType, ...params] = (req.headers['content-type'] ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if ((mediaType !== JSON_TYPE && mediaType !== PROTO_TYPE) || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    refuse(res, status.UNIMPLEMENTED, `Content-Type must be ${JSON_TYPE} (or ${PROTO_TYPE}), not ${JSON.stringify(req.headers['content-type'] ?? '').slice(0, 100)}`,
      415, { 'accept-post': `${JSON_TYPE}, ${PROTO_TYPE}` });
    return;
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    refuse(res, status.UNIMPLEMENTED, `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported: send the body uncompressed`, undefined, { 'accept-encoding': 'identity' });
    return;
  }
  const version = req.headers['connect-protocol-version'];
  if (version !== undefined && version !== '1') {
    refuse(res, status.INVALID_ARGUMENT, `Connect-Protocol-Version ${JSON.stringify(version.slice(0, 20))} is not supported (1 is)`);
    return;
  }
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    refuse(res, status.RESOURCE_EXHAUSTED, `the request body is larger than ${MAX_BODY_BYTES} bytes`, 413, { connection: 'close' });
    return;
  }
  if (!serving) {
    refuse(res, status.UNAVAILABLE, 'the server is shutting down; retry against another instance');
    return;
  }
  const entry = entries(deps.service).get(name);
  if (!entry) {
    refuse(res, status.UNIMPLEMENTED, `${name} is not implemented`);
    return;
  }
  const binary = mediaType === PROTO_TYPE;
  track(deps.streams, new Promise<void>((resolve) => {
    res.once('close', resolve);
    void call(req, res, { pathname, binary, entry, output: method.output, input: method.input, log: deps.log }).catch((err: unknown) => {
      sendConnectError(res, safeStatus(err, deps.log));
    });
  }));
}

interface CallSpec {
  readonly pathname: string;
  readonly binary: boolean;
  readonly entry: Entry;
  readonly input: Parameters<typeof jsonToBytes>[0];
  readonly output: Parameters<typeof bytesToJson>[0];
  readonly log: Logger;
}

async function call(req: IncomingMessage, res: ServerResponse, spec: CallSpec): Promise<void> {
  const body = await readBody(req, MAX_BODY_BYTES);
  if (!body) {
    refuse(res, status.RESOURCE_EXHAUSTED, `the request body is larger than ${MAX_BODY_BYTES} bytes`, 413, { connection: 'close' });
    return;
  }
  const bytes = spec.binary ? body : jsonToBytes(spec.input, body);
  const request = spec.entry.deserialize(bytes);
  let answered = false;
  spec.entry.handler(unaryCall(req, res, request, spec.pathname), (err, value) => {
    if (answered) return;
    answered = true;
    if (err) {
      sendConnectError(res, err);
      return;
    }
    try {
      const encoded = spec.entry.serialize(value);
      const body = spec.binary ? encoded : Buffer.from(JSON.stringify(bytesToJson(spec.output, encoded)));
      res.writeHead(200, { 'content-type': spec.binary ? PROTO_TYPE : JSON_TYPE, 'content-length': String(body.length), 'cache-control': 'no-store' }).end(body);
    } catch (error) {
      sendConnectError(res, safeStatus(error, spec.log));
    }
  });
}
