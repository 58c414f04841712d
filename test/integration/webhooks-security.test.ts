/**
 * With security on: the webhook RPCs are admin-only, and a webhook delivers its roles' view, as a
 * subscriber with those roles would get it: visibility first, then redaction, then the filter on the
 * redacted copy (so a filter cannot test masked values).
 */
import assert from '../support/assert.js';
import { afterAll, beforeAll, test } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { EventType } from '../../generated/audit/v1/event.js';
import { filterOf, makeEvent, startServer, waitFor, type TestServer } from '../support/server.js';
import { bearer, SECRET as JWT_SECRET, token } from '../support/security.js';
import { fastWebhooks, WebhookReceiver, webhookApi } from '../support/webhook-receiver.js';

const SECRET = 'security-secret-0123456789abcdef';

let server: TestServer;
let admin: ReturnType<typeof webhookApi>;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await WebhookReceiver.start(SECRET);
  server = await startServer({
    security: { enabled: true, jwt: { secret: JWT_SECRET } },
    webhooks: { defaults: fastWebhooks(), endpoints: { 'configured-auditor': { url: receiver.url, secret: SECRET, roles: ['auditor'] } } },
  });
  admin = webhookApi(server.client, bearer(await token('alice', ['admin'])));
});
afterAll(async () => {
  await server.close();
  await receiver.close();
});

test('the webhook RPCs need the admin role', async () => {
  const auditor = webhookApi(server.client, bearer(await token('bob', ['auditor'])));
  const calls = [() => auditor.create({ name: 'x', url: receiver.url }), () => auditor.list(), () => auditor.pause('configured-auditor'),
    () => auditor.delete('configured-auditor'), () => auditor.deadLetters('configured-auditor'), () => auditor.redrive('configured-auditor')];
  for (const call of calls) await assert.rejects(call(), (err: any) => err.code === status.PERMISSION_DENIED);
  await assert.rejects(webhookApi(server.client).list(), (err: any) => err.code === status.UNAUTHENTICATED);
});

test('a webhook delivers its roles\' view: visibility, redaction, and the filter on the redacted copy', async () => {
  const receivers = await Promise.all([0, 1, 2].map(() => WebhookReceiver.start(SECRET)));
  const [operatorView, oracle, adminView] = receivers as [WebhookReceiver, WebhookReceiver, WebhookReceiver];
  try {
    await admin.create({ name: 'operator-view', url: operatorView.url, secret: SECRET, roles: ['operator'] });
    // Would match the clear e-mail; an operator sees it masked, so it must never match.
    await admin.create({ name: 'oracle', url: oracle.url, secret: SECRET, roles: ['operator'], filter: filterOf({ expression: 'event.metadata.email.startsWith("alice")' }) });
    const own = await admin.create({ name: 'admin-view', url: adminView.url, secret: SECRET });
    assert.deepEqual([own.webhook?.owner, own.webhook?.roles], ['alice', ['admin']], 'the creator and its roles');

    const md = bearer(await token('svc', ['publisher']));
    const publishAs = (fields: Parameters<typeof makeEvent>[0]) =>
      new Promise<number>((resolve, reject) => server.client.publish({ event: makeEvent(fields) }, md.metadata, (e, r) => (e ? reject(e) : resolve(r.sequence))));
    const call = await publishAs({ type: EventType.EVENT_TYPE_CALL_CREATED, metadata: { email: 'alice@example.com' } });
    const login = await publishAs({ type: EventType.EVENT_TYPE_LOGIN_FAILED, metadata: { email: 'alice@example.com' } });

    await adminView.until('both events for the admin view', () => adminView.firstArrivals().length === 2);
    await operatorView.until('the call for the operator view', () => operatorView.firstArrivals().length === 1);
    await receiver.until('both events for the configured auditor view', () => receiver.firstArrivals().length >= 2);
    assert.deepEqual(adminView.arrivals(), [call, login]);
    assert.equal(adminView.received[0]?.events[0]?.metadata.email, 'alice@example.com', 'admin: in clear');
    assert.deepEqual(operatorView.arrivals(), [call], 'operator: no security events');
    assert.equal(operatorView.received[0]?.events[0]?.metadata.email, '****@example.com', 'operator: redacted');
    const audited = receiver.received.flatMap((r) => r.events).filter((e) => [call, login].includes(Number(e.sequence)));
    assert.deepEqual(audited.map((e) => e.metadata.email), ['****@example.com', '****@example.com'], 'configured roles: auditor, redacted');

    await waitFor('the oracle to have looked at both events', async () => (await admin.status('oracle')).cursor >= login);
    assert.equal(oracle.received.length, 0, 'the filter saw the masked value only');
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
  }
});
