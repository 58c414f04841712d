import assert from '../support/assert.js';
import { credentials } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { AuditServiceClient, QueryOrder } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { startServerProcess } from '../support/server-process.js';
import { api, makeEvent, StreamReader, within } from '../support/server.js';
import { readAll } from '../support/history.js';

const CONFIG = 'logging:\n  level: info\n';

test('SIGKILL while publishing loses no acknowledged event; the chain verifies; resume is exact', async () => {
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-crash-')), 'audit.db');
  const first = await startServerProcess(CONFIG, db);
  const client1 = new AuditServiceClient(`127.0.0.1:${first.grpcPort}`, credentials.createInsecure());
  const acked = new Map<string, number>();
  let failures = 0;
  let killed = false;
  // Publishers as fast as they can, 16 in flight, until the process dies under them.
  const killAfter = 300;
  let reachedKillPoint!: () => void;
  const killPoint = new Promise<void>((resolve) => (reachedKillPoint = resolve));
  const worker = async (): Promise<void> => {
    while (!killed || failures === 0) {
      const id = randomUUID();
      try {
        const ack = await api(client1).publish({ event: makeEvent({ id }) });
        acked.set(id, ack.sequence);
        if (acked.size >= killAfter) reachedKillPoint();
      } catch {
        failures++;
        if (killed) return;
      }
    }
  };
  const workers = Array.from({ length: 16 }, worker);
  await within(killPoint, `${killAfter} acknowledged publishes`, 30_000);
  first.child.kill('SIGKILL');
  killed = true;
  await first.exited;
  await Promise.all(workers);
  client1.close();
  assert.ok(failures > 0, 'some publishes were in flight when the process died');

  const second = await startServerProcess(CONFIG, db);
  const client = new AuditServiceClient(`127.0.0.1:${second.grpcPort}`, credentials.createInsecure());
  try {
    const stored = await readAll(client, QueryOrder.QUERY_ORDER_ASCENDING);
    const sequences = stored.map((e) => e.sequence);
    assert.deepEqual(sequences, Array.from({ length: stored.length }, (_, i) => i + 1), 'no gap, no duplicate');
    const storedIds = new Map(stored.map((e) => [e.id, e.sequence]));
    assert.equal(storedIds.size, stored.length, 'each id stored once');
    for (const [id, sequence] of acked) assert.equal(storedIds.get(id), sequence, `acknowledged event ${id} is stored at ${sequence}`);

    const verification = await new Promise<{ ok: boolean; checked: number }>((resolve, reject) =>
      client.verifyChain({ fromSequence: 0, toSequence: 0 }, (err, res) => (err ? reject(err) : resolve(res))));
    assert.deepEqual([verification.ok, verification.checked], [true, stored.length]);

    const resumeAfter = Math.floor(stored.length / 2);
    const reader = StreamReader.open(client, { afterSequence: resumeAfter });
    await reader.started();
    const next = await api(client).publish({ event: makeEvent() });
    assert.equal(next.sequence, stored.length + 1, 'sequences continue after the restart');
    const resumed = await reader.eventsUntil(stored.length + 1 - resumeAfter);
    assert.deepEqual(resumed.map((e: AuditEvent) => e.sequence), Array.from({ length: stored.length + 1 - resumeAfter }, (_, i) => resumeAfter + 1 + i));
    reader.cancel();
  } finally {
    client.close();
    await second.stop();
  }
});
