/**
 * Webhooks through the RPCs against a real node:http receiver: delivery in log order, signatures,
 * the secret never returned, validation, pause and resume, dead letters and redrive, metrics.
 */
import assert from '../support/assert.js';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, test } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { filterOf, makeEvent, publish, startServer, waitFor, type TestServer } from '../support/server.js';
import { fastWebhooks, verifyWebhook, WebhookReceiver, webhookApi } from '../support/webhook-receiver.js';

const SECRET = 'a-webhook-secret-of-32-characters';

let server: TestServer;
let hooks: ReturnType<typeof webhookApi>;
beforeAll(async () => {
  server = await startServer({ webhooks: { defaults: fastWebhooks({ max_retries: 2, circuit_breaker: { threshold: 100, half_open_after: 100 } }) } });
  hooks = webhookApi(server.client);
});
afterAll(() => server.close());

async function withReceiver(body: (r: WebhookReceiver) => Promise<void>, secret = SECRET): Promise<void> {
  const receiver = await WebhookReceiver.start(secret);
  try {
    await body(receiver);
  } finally {
    await receiver.close();
  }
}

test('matching events arrive in log order, signed; the secret is never returned', () => withReceiver(async (receiver) => {
  const created = await hooks.create({ name: 'calls-only', url: receiver.url, secret: SECRET, batchSize: 4, filter: filterOf({ categories: ['calls'] }) });
  assert.equal(created.secret, '', 'a given secret is not echoed');
  const id = created.webhook!.id;
  const expected: number[] = [];
  for (let i = 0; i < 15; i++) {
    const call = i % 3 !== 2;
    const r = await publish(server.client, makeEvent({ type: call ? EventType.EVENT_TYPE_CALL_CREATED : EventType.EVENT_TYPE_LOGIN_FAILED, severity: Severity.SEVERITY_INFO }));
    if (call) expected.push(r.sequence);
  }
  await receiver.until('every matching event', () => receiver.firstArrivals().length === expected.length);
  assert.deepEqual(receiver.arrivals(), expected, 'in log order, once each, and only the matching ones');
  for (const r of receiver.received) {
    assert.ok(r.verified, 'the signature verifies');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['webhook-id'], id);
    assert.match(String(r.headers['webhook-signature']), /^v1=[0-9a-f]{64}$/);
    assert.ok(r.events.length <= 4, 'batch_size bounds a request');
    assert.equal(r.events[0]?.type, 'EVENT_TYPE_CALL_CREATED', 'proto JSON: full enum names');
  }
  const listed = await hooks.list();
  const text = JSON.stringify(listed);
  assert.ok(!text.includes(SECRET), 'ListWebhooks never returns the secret');
  const w = listed.webhooks.find((x) => x.id === id)!;
  assert.equal(w.secretHint, `****${SECRET.slice(-4)}`);
  assert.equal(w.owner, 'local');
  assert.deepEqual(w.roles, ['admin']);
  await waitFor('the status to show every event sent', async () => (await hooks.status('calls-only')).sent === expected.length);
  await hooks.delete(id);
}));

test('without a secret the server draws one, returns it once, and signs with it', async () => {
  const first = await WebhookReceiver.start('');
  const created = await hooks.create({ name: 'drawn', url: first.url });
  await first.close();
  assert.match(created.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.ok(!JSON.stringify(await hooks.list()).includes(created.secret), 'never returned again');
  await withReceiver(async (receiver) => {
    await hooks.delete('drawn');
    await hooks.create({ name: 'drawn', url: receiver.url, secret: created.secret });
    const { sequence } = await publish(server.client, makeEvent());
    await receiver.until('the event', () => receiver.arrivals().includes(sequence));
    assert.ok(receiver.received.every((r) => r.verified), 'signed with the drawn secret');
    assert.ok(!verifyWebhook(SECRET, receiver.received[0]!.headers, receiver.received[0]!.body), 'another secret does not verify');
    await hooks.delete('drawn');
  }, created.secret);
});

test('CreateWebhook refuses what it cannot deliver, naming the field; nothing is kept', async () => {
  const url = 'http://127.0.0.1:9/hook';
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: 'bad name!' }, /^name: must be 1 to 100 letters/],
    [{ url: 'ftp://127.0.0.1/x' }, /^url: must be http or https, not ftp/],
    [{ url: 'http://user:pw@127.0.0.1/x' }, /^url: must not carry credentials/],
    [{ url: 'not a url' }, /^url: "not a url" is not a URL/],
    [{ secret: 'too-short' }, /^secret: must be 16 to 512 characters/],
    [{ roles: ['admin', 'wizard'] }, /^roles\[1\]: unknown role "wizard"/],
    [{ batchSize: 5000 }, /^batch_size: is 5000, the most is 1000/],
    [{ filter: filterOf({ expression: 'event.user_id.startsWith(' }) }, /^filter\.expression: /],
    [{ filter: filterOf({ categories: ['nope'] }) }, /^filter\.categories\[0\]: unknown category "nope"/],
  ];
  for (const [fields, message] of refused) {
    await assert.rejects(hooks.create({ name: 'refused', url, ...fields }), (err: any) => {
      assert.equal(err.code, status.INVALID_ARGUMENT, JSON.stringify(fields));
      assert.match(err.details, message);
      return true;
    });
  }
  assert.ok(!(await hooks.list()).webhooks.some((w) => w.name === 'refused'), 'nothing was stored');
  await hooks.create({ name: 'twice', url });
  await assert.rejects(hooks.create({ name: 'twice', url }), (err: any) => err.code === status.ALREADY_EXISTS && /"twice" exists already/.test(err.details));
  await hooks.delete('twice');
  for (const call of [() => hooks.pause('nope'), () => hooks.resume('nope'), () => hooks.delete('nope'), () => hooks.deadLetters('nope'), () => hooks.redrive('nope')]) {
    await assert.rejects(call(), (err: any) => err.code === status.NOT_FOUND && /no webhook has the id or name "nope"/.test(err.details));
  }
});

test('a paused webhook keeps its place: it gets nothing until resumed, then everything, in order', () => withReceiver(async (paused) => {
  await withReceiver(async (witness) => {
    await hooks.create({ name: 'witness', url: witness.url, secret: SECRET });
    await hooks.create({ name: 'pausable', url: paused.url, secret: SECRET });
    const p = await hooks.pause('pausable');
    assert.deepEqual([p.webhook?.paused, p.webhook?.pausedReason], [true, 'paused by local']);
    const sequences = [];
    for (let i = 0; i < 5; i++) sequences.push((await publish(server.client, makeEvent())).sequence);
    await witness.until('the witness to get every event', () => witness.firstArrivals().length === 5);
    assert.equal(paused.received.length, 0, 'the paused webhook sent nothing meanwhile');
    assert.equal((await hooks.status('pausable')).lag, 5);
    const r = await hooks.resume('pausable');
    assert.deepEqual([r.webhook?.paused, r.webhook?.pausedReason], [false, '']);
    await paused.until('the paused webhook to catch up', () => paused.firstArrivals().length === 5);
    assert.deepEqual(paused.arrivals(), sequences);
    await hooks.delete('witness');
    await hooks.delete('pausable');
  });
}));

test('retries used up: the batch becomes dead letters, later events go on; redrive delivers them', () => withReceiver(async (receiver) => {
  let broken = true;
  receiver.behave = () => (broken ? { kind: 'status', status: 500 } : { kind: 'ok' });
  await hooks.create({ name: 'flaky', url: receiver.url, secret: SECRET, batchSize: 10 });
  const bad = await server.api.publishBatch({ events: [makeEvent({ entityId: 'dl-1' }), makeEvent({ entityId: 'dl-2' })] });
  const badSequences = bad.results.map((r) => (r.outcome?.$case === 'stored' ? r.outcome.stored.sequence : 0));
  await waitFor('the batch to become dead letters', async () => (await hooks.status('flaky')).deadLetters === 2);
  assert.equal(receiver.received.length, 3, 'the first try and max_retries (2) retries');
  broken = false;
  const { sequence: later } = await publish(server.client, makeEvent({ entityId: 'after' }));
  await receiver.until('the next event', () => receiver.arrivals().includes(later));

  const page = await hooks.deadLetters('flaky', 1);
  assert.equal(page.total, 2);
  assert.equal(page.deadLetters[0]?.sequence, badSequences[0]);
  assert.deepEqual([page.deadLetters[0]?.reason, page.deadLetters[0]?.attempts, page.deadLetters[0]?.event?.entityId], ['HTTP 500', 3, 'dl-1']);
  const next = await hooks.deadLetters('flaky', 1, page.nextPageToken);
  assert.deepEqual([next.deadLetters[0]?.sequence, next.nextPageToken], [badSequences[1], '']);

  const redriven = await hooks.redrive('flaky', [badSequences[0]!, badSequences[1]!, 999_999]);
  assert.deepEqual(redriven.results.map((r) => [r.sequence, r.outcome]), [[badSequences[0], 1], [badSequences[1], 1], [999_999, 5]]);
  assert.deepEqual([redriven.deliveredCount, redriven.remaining], [2, 0]);
  const last = receiver.received.at(-1)!;
  assert.deepEqual([last.acknowledged, last.verified, last.events.map((e) => Number(e.sequence))], [true, true, badSequences]);

  const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
  for (const line of [
    'auditstream_webhook_deliveries_total{webhook="flaky"} 3', 'auditstream_webhook_failures_total{webhook="flaky"} 3',
    'auditstream_webhook_lag_events{webhook="flaky"} 0', 'auditstream_circuit_state{downstream="webhook:flaky"} 0',
    'auditstream_dead_letter_events{downstream="webhook:flaky"} 0', 'auditstream_forwarder_lag_events{downstream="webhook:flaky"} 0',
  ]) assert.ok(metrics.split('\n').includes(line), line);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  assert.ifError(check.error);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.equal((await hooks.delete('flaky')).deadLettersRemoved, 0);
  assert.ok(!(await (await fetch(`${server.httpUrl}/metrics`)).text()).includes('webhook="flaky"'), 'a deleted webhook\'s series go');
}));

test('the webhook RPCs are served as JSON over HTTP too (Connect unary)', async () => {
  const rpc = async (method: string, body: unknown) => {
    const res = await fetch(`${server.httpUrl}/audit.v1.AuditService/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() as any };
  };
  const created = await rpc('CreateWebhook', { name: 'over-http', url: 'https://siem.example.com/in', secret: SECRET, filter: { categories: ['security'] }, batch_size: 50 });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  assert.deepEqual([created.json.webhook.name, created.json.webhook.batchSize, created.json.webhook.filter.categories, created.json.webhook.secretHint],
    ['over-http', 50, ['security'], `****${SECRET.slice(-4)}`]);
  const listed = await rpc('ListWebhooks', {});
  assert.ok(listed.json.webhooks.some((w: any) => w.name === 'over-http' && w.status.circuitState === 'closed'));
  assert.ok(!JSON.stringify(listed.json).includes(SECRET));
  const refused = await rpc('CreateWebhook', { name: 'over-http', url: 'https://siem.example.com/in' });
  assert.deepEqual([refused.status, refused.json.code], [409, 'already_exists']);
  assert.equal((await rpc('DeleteWebhook', { webhook: 'over-http' })).status, 200);
});
