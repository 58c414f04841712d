import assert from '../support/assert.js';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';
import { EventType } from '../../generated/audit/v1/event.js';
import { App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { SseClient } from '../support/sse-client.js';
import { WsClient } from '../support/ws-client.js';
import { bearer, certificates, SECRET, token } from '../support/security.js';
import { makeEvent, startServer, StreamReader, type TestServer } from '../support/server.js';

const SECURE = { security: { enabled: true, jwt: { secret: SECRET } } };
const fail = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: ServiceError) => e);

function publishAs(server: TestServer, jwt: string, fields: Parameters<typeof makeEvent>[0]) {
  return new Promise((resolve, reject) => server.client.publish({ event: makeEvent(fields) }, bearer(jwt).metadata, (e, r) => (e ? reject(e) : resolve(r))));
}

function subscribeAs(server: TestServer, jwt: string, afterSequence?: number): StreamReader {
  return new StreamReader(server.client.subscribe({ clientName: 't', filter: undefined, afterSequence, afterCursor: '' }, bearer(jwt).metadata));
}

/** Every stored event the caller may see, oldest first (order 2) or newest first. */
function queryAs(server: TestServer, jwt: string, order = 2): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    const call = server.client.query({ filter: undefined, order, limit: 100, pageToken: '' }, bearer(jwt).metadata);
    call.on('data', (m: any) => m.kind?.$case === 'events' && events.push(...m.kind.events.events));
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}

describe('roles table, on every transport, live and on replay', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startServer(SECURE);
    admin = await token('root', ['admin']);
    await publishAs(server, admin, { type: EventType.EVENT_TYPE_LOGIN_FAILED, userId: 'alice', metadata: { phone: '+15551234567', email: 'alice@example.com' } });
    await publishAs(server, admin, { type: EventType.EVENT_TYPE_CALL_CREATED, userId: 'bob', metadata: { phone: '+15557654321' } });
    await publishAs(server, admin, { type: EventType.EVENT_TYPE_PAYMENT_PROCESSED, userId: 'alice', metadata: { card_number: '4111 1111 1111 1234' } });
  });
  afterAll(() => server.close());

  test('a publisher cannot subscribe or query; a non-publisher cannot publish', async () => {
    const publisher = await token('svc', ['publisher']);
    const ended = await subscribeAs(server, publisher).ended();
    assert.ok(ended !== 'OK' && ended.code === status.PERMISSION_DENIED);
    const operator = await token('op', ['operator']);
    assert.equal((await fail(publishAs(server, operator, {}))).code, status.PERMISSION_DENIED);
    const sse = await fetch(`${server.httpUrl}/v1/events?access_token=${publisher}`);
    assert.equal(sse.status, 403);
    assert.equal((await fail(new Promise((res, rej) => server.client.getStats({}, bearer(operator).metadata, (e, r) => (e ? rej(e) : res(r)))))).code, status.PERMISSION_DENIED);
  });

  test('an operator with an empty filter never sees a security event, and sees PII masked: gRPC, WebSocket, SSE, replay and live', async () => {
    const operator = await token('op', ['operator']);
    const grpc = subscribeAs(server, operator, 0);
    const ws = await WsClient.open(server.httpUrl, { headers: { authorization: `Bearer ${operator}` } });
    await ws.subscribe('all', { after_sequence: 0 });
    const sse = await SseClient.open(`${server.httpUrl}/v1/events?after_sequence=0&access_token=${operator}`);
    // Replay holds LOGIN_FAILED (security) and PAYMENT_PROCESSED (financial), live adds a breach: none reach an operator.
    await publishAs(server, admin, { type: EventType.EVENT_TYPE_SECURITY_BREACH, userId: 'eve' });
    await publishAs(server, admin, { type: EventType.EVENT_TYPE_CALL_ROUTED, userId: 'bob', metadata: { phone: '+15550001111' } });
    const seen = await grpc.eventsUntil(2);
    assert.deepEqual(seen.map((e) => e.type), [EventType.EVENT_TYPE_CALL_CREATED, EventType.EVENT_TYPE_CALL_ROUTED]);
    assert.deepEqual(seen.map((e) => e.metadata?.phone), ['+15557****', '+15550****']);
    for (const events of [await ws.eventsUntil('all', 2), await sse.eventsUntil(2)]) {
      assert.deepEqual(events.slice(0, 2).map((e) => [e.type, e.metadata.phone]), [['EVENT_TYPE_CALL_CREATED', '+15557****'], ['EVENT_TYPE_CALL_ROUTED', '+15550****']]);
    }
    const history = await queryAs(server, operator);
    assert.deepEqual(history.map((e) => e.type), [EventType.EVENT_TYPE_CALL_CREATED, EventType.EVENT_TYPE_CALL_ROUTED]);
    grpc.cancel();
    ws.socket.close();
    sse.close();
  });

  test('compliance sees a phone number in clear, operator masked, and the log keeps the original', async () => {
    const compliance = await token('cmp', ['compliance']);
    const reader = subscribeAs(server, compliance, 0);
    const [call] = await reader.eventsUntil(1);
    assert.equal(call.metadata?.phone, '+15557654321');
    reader.cancel();
    const adminView = await queryAs(server, admin, 2);
    assert.equal(adminView[1].metadata.phone, '+15557654321');
    assert.equal(adminView[0].metadata.email, 'alice@example.com');
  });

  test('a plain subject sees only its own events, redacted, on every transport', async () => {
    const alice = await token('alice', []);
    const reader = subscribeAs(server, alice, 0);
    const own = await reader.eventsUntil(2);
    assert.deepEqual(own.map((e) => e.userId), ['alice', 'alice']);
    assert.equal(own[0].metadata?.email, '****@example.com');
    assert.equal(own[1].metadata?.card_number, '****1234');
    const sse = await SseClient.open(`${server.httpUrl}/v1/events?after_sequence=0`, { authorization: `Bearer ${alice}` });
    await publishAs(server, admin, { userId: 'alice', entityId: 'live-alice' });
    assert.deepEqual((await sse.eventsUntil(3)).map((e) => e.userId), ['alice', 'alice', 'alice']);
    assert.equal((await reader.eventsUntil(3))[2].entityId, 'live-alice');
    reader.cancel();
    sse.close();
  });

  test('missing, expired and wrongly signed tokens are UNAUTHENTICATED (401 on the HTTP bridges)', async () => {
    const missing = await fail(new Promise((res, rej) => server.client.publish({ event: makeEvent() }, (e, r) => (e ? rej(e) : res(r)))));
    assert.equal(missing.code, status.UNAUTHENTICATED);
    const expired = await fail(publishAs(server, await token('root', ['admin'], { expiresInSeconds: -120 }), {}));
    assert.deepEqual([expired.code, expired.details], [status.UNAUTHENTICATED, 'the token has expired']);
    const forged = await fail(publishAs(server, await token('root', ['admin'], { secret: 'another-secret-of-at-least-32-bytes!!' }), {}));
    assert.deepEqual([forged.code, forged.details], [status.UNAUTHENTICATED, 'the token is not valid']);
    assert.equal((await fetch(`${server.httpUrl}/v1/events`)).status, 401);
  });
});

test('rate limits: publish rate per subject and concurrent subscriptions per subject', async () => {
  const server = await startServer({ security: { ...SECURE.security, rate_limits: { publish_per_second: 1, publish_burst: 2, max_subscriptions_per_subject: 1 } } });
  try {
    const admin = await token('root', ['admin']);
    await publishAs(server, admin, {});
    await publishAs(server, admin, {});
    const limited = await fail(publishAs(server, admin, {}));
    assert.equal(limited.code, status.RESOURCE_EXHAUSTED);
    assert.ok(Number(limited.metadata.get('retry-after-ms')[0]) > 0);
    const first = subscribeAs(server, admin);
    await first.started();
    const second = await subscribeAs(server, admin).ended();
    assert.ok(second !== 'OK' && second.code === status.RESOURCE_EXHAUSTED);
    first.cancel();
  } finally {
    await server.close();
  }
});

test('TLS and mutual TLS: the client certificate subject is the caller', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-tls-'));
  const certs = await certificates('billing-service');
  const file = (name: string, text: string) => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const config = parseConfig({
    server: { host: '127.0.0.1', grpc_port: 0, http_port: 0 },
    storage: { path: path.join(dir, 'audit.db') },
    security: {
      enabled: true,
      tls: { cert_file: file('server.pem', certs.cert), key_file: file('server.key', certs.key), client_ca_file: file('ca.pem', certs.cert) },
      certificate_roles: { 'billing-service': ['publisher'] },
    },
  });
  const app = await App.start(config, { logger: createLogger('silent') });
  try {
    const address = `localhost:${app.grpcPort}`;
    const mtls = new AuditServiceClient(address, credentials.createSsl(Buffer.from(certs.cert), Buffer.from(certs.clientKey), Buffer.from(certs.clientCert)));
    const ack = await new Promise<any>((res, rej) => mtls.publish({ event: makeEvent() }, (e, r) => (e ? rej(e) : res(r))));
    assert.equal(ack.sequence, 1);
    const denied = await fail(new Promise((res, rej) => mtls.getStats({}, (e, r) => (e ? rej(e) : res(r)))));
    assert.equal(denied.code, status.PERMISSION_DENIED);
    mtls.close();
    const noCert = new AuditServiceClient(address, credentials.createSsl(Buffer.from(certs.cert)));
    const refused = await fail(new Promise((res, rej) => noCert.publish({ event: makeEvent() }, (e, r) => (e ? rej(e) : res(r)))));
    assert.equal(refused.code, status.UNAVAILABLE); // the TLS handshake itself fails without a client certificate
    noCert.close();
  } finally {
    await app.shutdown();
  }
});

test('with security off the service refuses a non-loopback address unless allow_insecure', async () => {
  const config = parseConfig({ server: { host: '0.0.0.0', grpc_port: 0, http_port: 0 }, storage: { type: 'memory' } });
  await assert.rejects(App.start(config, { logger: createLogger('silent') }), /refusing to listen on 0\.0\.0\.0 with security off/);
});

describe('role names that are Object.prototype members are unknown roles', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startServer(SECURE);
    admin = await token('root', ['admin']);
    await publishAs(server, admin, { type: EventType.EVENT_TYPE_LOGIN_FAILED, userId: 'alice', entityId: 'a-1' });
    await publishAs(server, admin, { type: EventType.EVENT_TYPE_CALL_CREATED, userId: 'bob', entityId: 'b-1' });
  });
  afterAll(() => server.close());

  for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
    test(`roles [${role}]: own events only, as with no known role, on gRPC, SSE and WebSocket`, async () => {
      const jwt = await token('alice', [role]);
      const expected = (await queryAs(server, await token('alice', []))).map((e) => e.entityId);
      assert.deepEqual(expected, ['a-1']);
      assert.deepEqual((await queryAs(server, jwt)).map((e) => e.entityId), expected);
      const reader = subscribeAs(server, jwt, 0);
      assert.deepEqual((await reader.eventsUntil(1)).map((e) => e.entityId), expected);
      reader.cancel();
      // Not an ops caller either: GetStats is PERMISSION_DENIED, not INTERNAL.
      const stats = await fail(new Promise((res, rej) => server.client.getStats({}, bearer(jwt).metadata, (e, r) => (e ? rej(e) : res(r)))));
      assert.equal(stats.code, status.PERMISSION_DENIED);
      const sse = await SseClient.open(`${server.httpUrl}/v1/events?after_sequence=0`, { authorization: `Bearer ${jwt}` });
      assert.deepEqual((await sse.eventsUntil(1)).map((e) => e.entityId), expected);
      sse.close();
      const ws = await WsClient.open(server.httpUrl, { headers: { authorization: `Bearer ${jwt}` } });
      await ws.subscribe('s', { after_sequence: 0 });
      assert.deepEqual((await ws.eventsUntil('s', 1)).map((e) => e.entityId), expected);
      ws.socket.close();
    });
  }
});

describe('another caller\'s subscription id answers exactly as an unknown one', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(SECURE);
  });
  afterAll(() => server.close());

  const unary = (method: 'getSubscriptionStats' | 'unsubscribe', jwt: string, subscriptionId: string) =>
    new Promise<any>((res, rej) => server.client[method]({ subscriptionId }, bearer(jwt).metadata, (e: ServiceError | null, r: unknown) => (e ? rej(e) : res(r))));

  test('GetSubscriptionStats and Unsubscribe over gRPC: same NOT_FOUND for a foreign and a missing id', async () => {
    const alice = await token('alice', ['auditor']);
    const bob = await token('bob', ['auditor']);
    const reader = subscribeAs(server, alice);
    const { subscriptionId } = await reader.started();
    // The unknown id has the same length and shape, so the message differs only by the id it names.
    const unknown = `${subscriptionId.slice(0, -1)}${subscriptionId.endsWith('0') ? '1' : '0'}`;
    for (const method of ['getSubscriptionStats', 'unsubscribe'] as const) {
      const foreign = await fail(unary(method, bob, subscriptionId));
      const missing = await fail(unary(method, bob, unknown));
      assert.equal(foreign.code, status.NOT_FOUND);
      assert.deepEqual([foreign.code, foreign.details.replace(subscriptionId, '<id>')], [missing.code, missing.details.replace(unknown, '<id>')]);
      assert.equal(foreign.details, `subscription_id: no active subscription ${JSON.stringify(subscriptionId)}`);
    }
    // The owner and an admin still see it; the subscription was not ended by bob's attempt.
    assert.equal((await unary('getSubscriptionStats', alice, subscriptionId)).subscription.subscriptionId, subscriptionId);
    assert.equal((await unary('getSubscriptionStats', await token('root', ['admin']), subscriptionId)).subscription.subscriptionId, subscriptionId);
    await unary('unsubscribe', alice, subscriptionId);
    assert.equal(await reader.ended(), 'OK');
    const gone = await fail(unary('getSubscriptionStats', alice, subscriptionId));
    assert.equal(gone.code, status.NOT_FOUND);
  });

  test('WebSocket unsubscribe: another connection\'s subscription id answers as an unknown one', async () => {
    const alice = await WsClient.open(server.httpUrl, { headers: { authorization: `Bearer ${await token('alice', ['auditor'])}` } });
    const bob = await WsClient.open(server.httpUrl, { headers: { authorization: `Bearer ${await token('bob', ['auditor'])}` } });
    await alice.subscribe('shared');
    bob.send({ type: 'unsubscribe', id: 'shared' });
    const foreign = await bob.frame('error', 'shared');
    alice.send({ type: 'unsubscribe', id: 'shared' });
    await alice.frame('ended', 'shared');
    bob.send({ type: 'unsubscribe', id: 'shared' });
    const missing = await bob.until('a second error', () => bob.frames.filter((f: any) => f.type === 'error' && f.id === 'shared')[1]);
    assert.equal(foreign.error.code, 'NOT_FOUND');
    assert.deepEqual(foreign, missing);
    alice.socket.close();
    bob.socket.close();
  });
});

describe('/metrics and /readyz with security on', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(SECURE);
  });
  afterAll(() => server.close());

  const get = (pathname: string, headers: Record<string, string> = {}) => fetch(`${server.httpUrl}${pathname}`, { headers });

  test('/metrics needs a bearer token with role admin or operator: 401 without one, 403 for other roles', async () => {
    const none = await get('/metrics');
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(((await none.json()) as any).error.code, 'UNAUTHENTICATED');
    assert.equal((await get('/metrics', { authorization: 'Bearer not-a-token' })).status, 401);
    assert.equal((await get('/metrics', { authorization: `Bearer ${await token('root', ['admin'], { secret: 'another-secret-of-at-least-32-bytes!!' })}` })).status, 401);
    for (const role of ['auditor', 'publisher', 'security', 'compliance', 'toString']) {
      const res = await get('/metrics', { authorization: `Bearer ${await token('x', [role])}` });
      assert.equal(res.status, 403, role);
      assert.equal(((await res.json()) as any).error.code, 'PERMISSION_DENIED');
    }
    // A token in the query string is not taken here: scrape URLs end up in logs.
    assert.equal((await get(`/metrics?access_token=${await token('op', ['operator'])}`)).status, 401);
    for (const role of ['operator', 'admin']) {
      const res = await get('/metrics', { authorization: `Bearer ${await token('scraper', [role])}` });
      assert.equal(res.status, 200, role);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(await res.text(), /^# HELP /m);
    }
  });

  test('/readyz answers 200 to anyone with only the status; admins and operators get the detail; /healthz stays open', async () => {
    const minimal = await get('/readyz');
    assert.equal(minimal.status, 200);
    assert.deepEqual(await minimal.json(), { status: 'ready' });
    for (const headers of [{ authorization: 'Bearer junk' }, { authorization: `Bearer ${await token('a', ['auditor'])}` }, { authorization: 'Basic abc' }]) {
      const res = await get('/readyz', headers);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ready' });
    }
    const detailed = await get('/readyz', { authorization: `Bearer ${await token('op', ['operator'])}` });
    assert.deepEqual(await detailed.json(), { status: 'ready', ready: true, log: 'writable', shuttingDown: false, downstreams: [] });
    const health = await get('/healthz');
    assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
  });
});
