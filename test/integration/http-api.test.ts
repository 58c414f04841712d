import assert from '../support/assert.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { PublishRequest, PublishResponse, type QueryResponse } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { bearer, certificates, SECRET, token } from '../support/security.js';
import { makeEvent, startServer, StreamReader, type TestServer } from '../support/server.js';

const run = promisify(execFile);

/**
 * The README's "HTTP API" examples, exactly as printed there (the README's address and port): each is
 * run with bash against a test server, the address replaced and `-w '\n%{http_code}'` appended so the
 * status can be checked too.
 */
const README_ADDRESS = 'http://127.0.0.1:8080';
const EXAMPLES = {
  publish: `curl -s ${README_ADDRESS}/audit.v1.AuditService/Publish -H 'Content-Type: application/json' -d '{"event":{"type":"EVENT_TYPE_LOGIN_FAILED","severity":"SEVERITY_MEDIUM","action":"login","entity_type":"user","entity_id":"alice","user_id":"alice","metadata":{"ip":"203.0.113.7"}}}'`,
  publishBatch: `curl -s ${README_ADDRESS}/audit.v1.AuditService/PublishBatch -H 'Content-Type: application/json' -d '{"events":[{"type":"EVENT_TYPE_CALL_CREATED","action":"create","entityType":"call","entityId":"call-42","userId":"bob"},{"type":"EVENT_TYPE_CALL_COMPLETED","action":"hangup","entityType":"call","entityId":"call-42","userId":"bob"}]}'`,
  stats: `curl -s ${README_ADDRESS}/audit.v1.AuditService/GetStats -H 'Content-Type: application/json' -d '{}'`,
  verify: `curl -s ${README_ADDRESS}/audit.v1.AuditService/VerifyChain -H 'Content-Type: application/json' -d '{"from_sequence":"1"}'`,
  error: `curl -s ${README_ADDRESS}/audit.v1.AuditService/Publish -H 'Content-Type: application/json' -d '{"event":{"type":"EVENT_TYPE_CALL_CREATED","action":"create","colour":"red"}}'`,
  /** With security on: the token in the Authorization header. */
  withToken: `curl -s ${README_ADDRESS}/audit.v1.AuditService/ListSubscriptions -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" -d '{}'`,
};

async function curl(line: string, baseUrl: string, env: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  assert.ok(line.includes(README_ADDRESS));
  const { stdout } = await run('bash', ['-c', `${line.replace(README_ADDRESS, baseUrl)} -w '\\n%{http_code}'`], { env: { ...process.env, ...env } });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut)) };
}

/** POST /audit.v1.AuditService/<method> with a JSON body (a string is sent as it is). */
async function rpc(baseUrl: string, method: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/audit.v1.AuditService/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() as any };
}

const auth = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

/** Every stored event, oldest first, over gRPC. */
function stored(server: TestServer, jwt?: string): Promise<AuditEvent[]> {
  return new Promise((resolve, reject) => {
    const events: AuditEvent[] = [];
    const request = { filter: undefined, order: 2, limit: 100, pageToken: '' };
    const call = jwt ? server.client.query(request, bearer(jwt).metadata) : server.client.query(request);
    call.on('data', (m: QueryResponse) => m.kind?.$case === 'events' && events.push(...m.kind.events.events));
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}

describe('JSON over HTTP for the unary RPCs (Connect protocol), security off', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  test('the README curl examples', async () => {
    const url = server.httpUrl;
    const published = await curl(EXAMPLES.publish, url);
    assert.equal(published.status, 200);
    assert.match(published.body.eventId, /^[0-9a-f-]{36}$/);
    assert.deepEqual([published.body.sequence, published.body.cursor], ['1', '1']); // 64-bit integers as strings
    const batch = await curl(EXAMPLES.publishBatch, url);
    assert.equal(batch.status, 200);
    assert.equal(batch.body.acceptedCount, 2);
    assert.deepEqual(batch.body.results.map((r: any) => r.stored.sequence), ['2', '3']);
    const stats = await curl(EXAMPLES.stats, url);
    assert.equal(stats.status, 200);
    assert.deepEqual([stats.body.eventsPublished, stats.body.lastSequence], ['3', '3']);
    const verified = await curl(EXAMPLES.verify, url);
    assert.deepEqual([verified.status, verified.body], [200, { ok: true, checked: '3', firstSequence: '1', lastSequence: '3' }]);
    const refused = await curl(EXAMPLES.error, url);
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, {
      code: 'invalid_argument', message: 'event.colour: unknown field: audit.v1.AuditEvent has no field by this name (proto or JSON name)',
    });
    const events = await stored(server);
    assert.deepEqual(events.map((e) => [e.sequence, e.entityId, e.metadata]), [[1, 'alice', { ip: '203.0.113.7' }], [2, 'call-42', {}], [3, 'call-42', {}]]);
  });

  test('proto field names and lowerCamelCase JSON names store the same event; enums by name or number', async () => {
    const snake = { type: 'EVENT_TYPE_BID_CREATED', severity: 'SEVERITY_HIGH', action: 'bid', entity_type: 'bid', entity_id: 'bid-7', user_id: 'carol', correlation_id: 'corr-1', metadata: { amount: 12.5, tags: ['a', 'b'] } };
    const camel = { type: 10, severity: 4, action: 'bid', entityType: 'bid', entityId: 'bid-7', userId: 'carol', correlationId: 'corr-1', metadata: { amount: 12.5, tags: ['a', 'b'] } };
    const a = await rpc(server.httpUrl, 'Publish', { event: snake });
    const b = await rpc(server.httpUrl, 'Publish', { event: camel });
    assert.deepEqual([a.status, b.status], [200, 200], JSON.stringify([a.body, b.body]));
    const events = await stored(server);
    const [x, y] = [events.find((e) => e.id === a.body.eventId), events.find((e) => e.id === b.body.eventId)];
    assert.ok(x && y);
    const fields = ({ type, severity, action, entityType, entityId, userId, correlationId, metadata }: AuditEvent) =>
      ({ type, severity, action, entityType, entityId, userId, correlationId, metadata });
    assert.deepEqual(fields(x), fields(y));
    assert.equal(x.correlationId, 'corr-1');
    // The same field under both names is refused, as a repeated field is on the gRPC side.
    const twice = await rpc(server.httpUrl, 'Publish', { event: { ...camel, user_id: 'mallory' } });
    assert.deepEqual([twice.status, twice.body.code], [400, 'invalid_argument']);
    assert.match(twice.body.message, /user_id.*set multiple times/);
  });

  test('unknown fields and bad values are refused with 400 naming the field, and nothing is stored', async () => {
    const before = (await stored(server)).length;
    const top = await rpc(server.httpUrl, 'Publish', { event: makeJsonEvent(), priority: 'high' });
    assert.deepEqual([top.status, top.body.code], [400, 'invalid_argument']);
    assert.match(top.body.message, /^priority: unknown field: audit\.v1\.PublishRequest/);
    const nested = await rpc(server.httpUrl, 'PublishBatch', { events: [makeJsonEvent(), { ...makeJsonEvent(), colour: 'red' }] });
    assert.equal(nested.status, 400);
    assert.match(nested.body.message, /^events\[1\]\.colour: unknown field: audit\.v1\.AuditEvent/);
    assert.equal(nested.headers.get('trailer-invalid-field'), 'events[1].colour');
    const badEnum = await rpc(server.httpUrl, 'Publish', { event: { ...makeJsonEvent(), severity: 'LOUD' } });
    assert.equal(badEnum.status, 400);
    assert.match(badEnum.body.message, /audit\.v1\.Severity.*"LOUD"/);
    const badType = await rpc(server.httpUrl, 'Publish', { event: { ...makeJsonEvent(), entityId: 42 } });
    assert.equal(badType.status, 400);
    assert.match(badType.body.message, /audit\.v1\.AuditEvent\.entity_id.*expected string/);
    // What JSON can carry but a protobuf string cannot store exactly: refused, never replaced by U+FFFD.
    const surrogate = await rpc(server.httpUrl, 'Publish', `{"event":{"type":"EVENT_TYPE_CALL_CREATED","action":"a","metadata":{"k\\udc00":"x"}}}`);
    assert.deepEqual([surrogate.status, surrogate.body.code], [400, 'invalid_argument']);
    assert.ok(surrogate.body.message.startsWith('event.metadata["k\\udc00"]: is not valid UTF-8'), surrogate.body.message);
    const latin1 = await fetch(`${server.httpUrl}/audit.v1.AuditService/Publish`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"event":{"type":"EVENT_TYPE_CALL_CREATED","action":"caf\xe9"}}', 'latin1'),
    });
    assert.deepEqual([latin1.status, await latin1.json()], [400, { code: 'invalid_argument', message: 'the body is not valid UTF-8' }]);
    for (const body of ['{"event":', '[1,2]', 'null', '['.repeat(1000) + ']'.repeat(1000)]) {
      const r = await rpc(server.httpUrl, 'Publish', body);
      assert.deepEqual([r.status, r.body.code], [400, 'invalid_argument'], body);
    }
    // What the handler refuses (no action) is the gRPC handler's own message, per event in a batch.
    const invalid = await rpc(server.httpUrl, 'PublishBatch', { events: [makeJsonEvent(), { type: 'EVENT_TYPE_CALL_CREATED' }] });
    assert.equal(invalid.status, 200);
    assert.deepEqual(invalid.body.results[1].error, { code: 'INVALID_ARGUMENT', message: 'events[1].action: is required', field: 'events[1].action' });
    assert.equal((await stored(server)).length, before + 1);
  });

  test('64-bit integers: strings (or numbers) in, strings out; beyond 2^53 refused as on gRPC', async () => {
    const verify = await rpc(server.httpUrl, 'VerifyChain', { fromSequence: 1, to_sequence: '2' });
    assert.deepEqual([verify.status, verify.body.checked, verify.body.lastSequence], [200, '2', '2']);
    const huge = await rpc(server.httpUrl, 'VerifyChain', { from_sequence: '18446744073709551615' });
    assert.deepEqual([huge.status, huge.body.code], [400, 'invalid_argument']);
  });

  test('what is not a unary JSON call: content types, streaming methods, unknown methods, GET, size', async () => {
    const url = `${server.httpUrl}/audit.v1.AuditService/GetStats`;
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body: '{}' });
      assert.equal(res.status, 415, type);
      assert.equal((await res.json() as any).code, 'unimplemented');
    }
    for (const method of ['Subscribe', 'Query', 'Backup']) {
      const r = await rpc(server.httpUrl, method, {});
      assert.deepEqual([r.status, r.body.code], [415, 'unimplemented']);
      assert.match(r.body.message, /server-streaming.*use gRPC/);
    }
    const unknown = await rpc(server.httpUrl, 'DropTable', {});
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'unimplemented']);
    const get = await fetch(url);
    assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST']);
    const large = await rpc(server.httpUrl, 'Publish', { event: { ...makeJsonEvent(), action: 'x'.repeat(8 * 1024 * 1024) } });
    assert.deepEqual([large.status, large.body.code], [413, 'resource_exhausted']);
    // Without a Content-Length (chunked), the body is cut off at the limit just the same.
    const chunks = [Buffer.from('{"event":{"action":"'), Buffer.alloc(9 * 1024 * 1024, 'x'), Buffer.from('"}}')];
    const chunked = await fetch(`${server.httpUrl}/audit.v1.AuditService/Publish`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, duplex: 'half',
      body: new ReadableStream({ pull(controller) { const next = chunks.shift(); if (next) controller.enqueue(next); else controller.close(); } }),
    } as RequestInit).catch((err: Error) => err);
    if (!(chunked instanceof Error)) assert.equal(chunked.status, 413); // or the connection was closed while still sending
    // Still serving afterwards, and the other routes of the port are unchanged.
    assert.equal((await rpc(server.httpUrl, 'ListSubscriptions', {})).status, 200);
    assert.equal((await fetch(`${server.httpUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.httpUrl}/healthz`, { method: 'POST' })).status, 405);
  });

  test('errors from the handlers: not_found for an unknown subscription, never a stack trace', async () => {
    const r = await rpc(server.httpUrl, 'GetSubscriptionStats', { subscriptionId: 'nope' });
    assert.equal(r.status, 404);
    assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message']);
    assert.equal(r.body.code, 'not_found');
    const checkpoint = await rpc(server.httpUrl, 'GetCheckpoint', {});
    assert.deepEqual([checkpoint.status, checkpoint.body.code], [404, 'not_found']);
    const deadLetters = await rpc(server.httpUrl, 'ListDeadLetters', {});
    assert.deepEqual([deadLetters.status, deadLetters.body.code], [400, 'failed_precondition']);
  });

  test('application/proto: the binary form of the same call, as a Connect client sends it', async () => {
    const res = await fetch(`${server.httpUrl}/audit.v1.AuditService/Publish`, {
      method: 'POST', headers: { 'content-type': 'application/proto' }, body: PublishRequest.encode({ event: makeEvent({ entityId: 'binary-1' }) }).finish(),
    });
    assert.deepEqual([res.status, res.headers.get('content-type')], [200, 'application/proto']);
    const ack = PublishResponse.decode(new Uint8Array(await res.arrayBuffer()));
    assert.ok(ack.sequence > 0);
    assert.equal((await stored(server)).find((e) => e.sequence === ack.sequence)?.entityId, 'binary-1');
  });
});

function makeJsonEvent() {
  return { type: 'EVENT_TYPE_CALL_CREATED', action: 'create', entityType: 'call', entityId: `call-${Math.random().toString(36).slice(2)}`, userId: 'u' };
}

describe('JSON over HTTP with security on: the gRPC roles, visibility and rate limits', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startServer({ security: { enabled: true, jwt: { secret: SECRET }, rate_limits: { publish_per_second: 1, publish_burst: 5 } } });
    admin = await token('root', ['admin']);
  });
  afterAll(() => server.close());

  test('no token is 401 unauthenticated; a publisher can publish, an operator cannot', async () => {
    const missing = await rpc(server.httpUrl, 'Publish', { event: makeJsonEvent() });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.code, 'unauthenticated');
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="auditstream"');
    const malformed = await rpc(server.httpUrl, 'Publish', { event: makeJsonEvent() }, { authorization: 'Basic abc' });
    assert.deepEqual([malformed.status, malformed.body.code], [401, 'unauthenticated']);
    const forged = await rpc(server.httpUrl, 'Publish', { event: makeJsonEvent() }, auth(await token('root', ['admin'], { secret: 'another-secret-of-at-least-32-bytes!!' })));
    assert.deepEqual([forged.status, forged.body], [401, { code: 'unauthenticated', message: 'the token is not valid' }]);
    const publisher = await rpc(server.httpUrl, 'Publish', { event: makeJsonEvent() }, auth(await token('svc', ['publisher'])));
    assert.equal(publisher.status, 200);
    const operator = await token('op', ['operator']);
    const denied = await rpc(server.httpUrl, 'Publish', { event: makeJsonEvent() }, auth(operator));
    assert.deepEqual([denied.status, denied.body], [403, { code: 'permission_denied', message: 'op may not publish' }]);
    assert.equal((await rpc(server.httpUrl, 'GetStats', {}, auth(operator))).status, 403);
    assert.equal((await rpc(server.httpUrl, 'GetStats', {}, auth(admin))).status, 200);
    assert.equal((await rpc(server.httpUrl, 'ErasePersonalData', { userId: 'alice', reason: 'x' }, auth(operator))).status, 403);
  });

  test('reads show what the roles table allows: only the caller\'s own subscriptions unless admin', async () => {
    const operator = await token('op', ['operator']);
    const auditor = await token('aud', ['auditor']);
    const mine = new StreamReader(server.client.subscribe({ clientName: 'op-stream', filter: undefined, afterCursor: '' }, bearer(operator).metadata));
    const theirs = new StreamReader(server.client.subscribe({ clientName: 'aud-stream', filter: undefined, afterCursor: '' }, bearer(auditor).metadata));
    const [{ subscriptionId: own }, { subscriptionId: other }] = await Promise.all([mine.started(), theirs.started()]);
    try {
      const asOperator = await curl(EXAMPLES.withToken, server.httpUrl, { TOKEN: operator });
      assert.equal(asOperator.status, 200);
      assert.deepEqual(asOperator.body.subscriptions.map((s: any) => [s.subscriptionId, s.clientName, s.transport]), [[own, 'op-stream', 'grpc']]);
      const asAdmin = await rpc(server.httpUrl, 'ListSubscriptions', {}, auth(admin));
      assert.deepEqual(asAdmin.body.subscriptions.map((s: any) => s.subscriptionId).sort(), [own, other].sort());
      // Another caller's subscription answers exactly as an unknown one.
      const probe = await rpc(server.httpUrl, 'GetSubscriptionStats', { subscription_id: other }, auth(operator));
      assert.deepEqual([probe.status, probe.body.code], [404, 'not_found']);
      const cancel = await rpc(server.httpUrl, 'Unsubscribe', { subscriptionId: other }, auth(operator));
      assert.deepEqual([cancel.status, cancel.body.code], [404, 'not_found']);
      const ownStats = await rpc(server.httpUrl, 'GetSubscriptionStats', { subscription_id: own }, auth(operator));
      assert.equal(ownStats.body.subscription.clientName, 'op-stream');
      const unsubscribed = await rpc(server.httpUrl, 'Unsubscribe', { subscriptionId: own }, auth(operator));
      assert.deepEqual([unsubscribed.status, unsubscribed.body], [200, {}]);
    } finally {
      mine.cancel();
      theirs.cancel();
    }
  });

  test('the publish rate limit answers 429 resource_exhausted with Retry-After in seconds', async () => {
    const flood = await token('flood', ['publisher']);
    const events = Array.from({ length: 6 }, makeJsonEvent);
    const limited = await rpc(server.httpUrl, 'PublishBatch', { events }, auth(flood));
    assert.deepEqual([limited.status, limited.body.code], [429, 'resource_exhausted']);
    assert.match(limited.body.message, /publish rate limit exceeded/);
    const retryMs = Number(limited.headers.get('trailer-retry-after-ms'));
    assert.ok(retryMs > 0);
    assert.equal(limited.headers.get('retry-after'), String(Math.ceil(retryMs / 1000)));
    assert.equal((await rpc(server.httpUrl, 'PublishBatch', { events: events.slice(0, 5) }, auth(flood))).status, 200);
  });
});

test('HTTPS with a client certificate: the certificate subject is the caller, as on gRPC', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-http-api-'));
  const certs = await certificates('billing-service');
  const file = (name: string, text: string) => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const [ca, clientCert, clientKey] = [file('ca.pem', certs.cert), file('client.pem', certs.clientCert), file('client.key', certs.clientKey)];
  const app = await App.start(parseConfig({
    server: { host: '127.0.0.1', grpc_port: 0, http_port: 0 },
    logging: { level: 'silent' },
    storage: { path: path.join(dir, 'audit.db') },
    security: {
      enabled: true,
      tls: { cert_file: file('server.pem', certs.cert), key_file: file('server.key', certs.key), client_ca_file: ca },
      certificate_roles: { 'billing-service': ['publisher'] },
    },
  }), { logger: createLogger('silent') });
  try {
    // The README's address is replaced by https://127.0.0.1:<port>.
    const base = `https://127.0.0.1:${app.httpPort}`;
    const tls = `--cacert ${ca}`;
    const client = `--cert ${clientCert} --key ${clientKey}`;
    const publish = (credentials: string) => curl(
      `curl -s ${README_ADDRESS}/audit.v1.AuditService/Publish ${credentials} -H 'Content-Type: application/json' -d '${JSON.stringify({ event: makeJsonEvent() })}'`, base,
    );
    const published = await publish(`${tls} ${client}`);
    assert.deepEqual([published.status, published.body.sequence], [200, '1']);
    const anonymous = await publish(tls);
    assert.deepEqual([anonymous.status, anonymous.body.code], [401, 'unauthenticated']);
    const stats = await curl(`curl -s ${README_ADDRESS}/audit.v1.AuditService/GetStats ${tls} ${client} -H 'Content-Type: application/json' -d '{}'`, base);
    assert.deepEqual([stats.status, stats.body.code], [403, 'permission_denied']);
  } finally {
    await app.shutdown();
  }
});
