/**
 * The service restarts mid-delivery, as a real process on a fixed database: killed with SIGKILL, and
 * stopped with SIGTERM. The webhook (made by RPC, so kept in the database) resumes from its cursor:
 * every event arrives, in order, signed. After SIGKILL only the last request the receiver acknowledged
 * before the kill may come again (its 2xx may not have been seen, or its cursor not saved); after
 * SIGTERM nothing comes twice (the request in flight finishes and its cursor is saved).
 */
import assert from '../support/assert.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { credentials } from '@grpc/grpc-js';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { api, makeEvent, waitFor } from '../support/server.js';
import { type Received, WebhookReceiver, webhookApi } from '../support/webhook-receiver.js';

const SECRET = 'restart-secret-0123456789abcdef';
const CONFIG = `logging:
  level: info
webhooks:
  defaults:
    linger: 0
    timeout: 2s
    max_retries: 100
    retry_delay: 5
    retry_backoff: 100
`;

function clientOf(p: ServerProcess): AuditServiceClient {
  return new AuditServiceClient(`127.0.0.1:${p.grpcPort}`, credentials.createInsecure());
}

async function publishBatch(client: AuditServiceClient, n: number): Promise<number[]> {
  const r = await api(client).publishBatch({ events: Array.from({ length: n }, () => makeEvent()) });
  return r.results.map((x) => (x.outcome?.$case === 'stored' ? x.outcome.stored.sequence : 0));
}

const sequencesOf = (r: Received | undefined): number[] => r?.events.map((e) => Number(e.sequence)) ?? [];

test('restarted mid-delivery (SIGKILL, then SIGTERM): every event arrives in order; repeats only where allowed', async () => {
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'webhooks-restart-')), 'audit.db');
  const receiver = await WebhookReceiver.start(SECRET);
  receiver.behave = () => ({ kind: 'late', ms: 20 }); // a 2xx after 20 ms: deliveries take a while
  let server = await startServerProcess(CONFIG, db);
  let client = clientOf(server);
  try {
    await webhookApi(client).create({ name: 'durable', url: receiver.url, secret: SECRET, batchSize: 5 });
    const expected = await publishBatch(client, 100);

    await receiver.until('a few acknowledged requests', () => receiver.received.filter((r) => r.acknowledged).length >= 5);
    server.child.kill('SIGKILL');
    await server.exited;
    client.close();
    const boundary = receiver.received.length;
    assert.ok(receiver.firstArrivals().length < expected.length, 'killed mid-delivery');

    server = await startServerProcess(CONFIG, db);
    client = clientOf(server);
    await receiver.until('every event after the restart', () => receiver.firstArrivals().length === expected.length);
    const lastAckedBeforeKill = receiver.received.slice(0, boundary).filter((r) => r.acknowledged).at(-1);
    const allowed = new Set(sequencesOf(lastAckedBeforeKill));
    assert.deepEqual(receiver.firstArrivals(), expected, 'every event, in log order');
    assert.ok(receiver.received.every((r) => r.verified), 'every signature verifies');
    assert.deepEqual(receiver.repeatsAfterAck(allowed), [], `repeats only of the last batch acknowledged before the kill (${[...allowed].join(',')})`);

    const more = await publishBatch(client, 60);
    const before = receiver.received.length;
    await receiver.until('a few more acknowledged requests', () => receiver.received.slice(before).filter((r) => r.acknowledged).length >= 3);
    assert.equal(await server.stop(), 0, 'a graceful stop');
    client.close();
    assert.ok(receiver.firstArrivals().length < expected.length + more.length, 'stopped mid-delivery');

    server = await startServerProcess(CONFIG, db);
    client = clientOf(server);
    await receiver.until('every event after the second restart', () => receiver.firstArrivals().length === expected.length + more.length);
    assert.deepEqual(receiver.firstArrivals(), [...expected, ...more]);
    assert.ok(receiver.received.every((r) => r.verified));
    assert.deepEqual(receiver.repeatsAfterAck(allowed), [], 'nothing repeated across the graceful stop');
    const hooks = webhookApi(client);
    await waitFor('the cursor to reach the last event', async () => (await hooks.status('durable')).cursor === more.at(-1));
  } finally {
    client.close();
    await server.stop();
    await receiver.close();
  }
});
