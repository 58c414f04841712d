import assert from '../support/assert.js';
import { test } from '@jest/globals';
import fc from 'fast-check';
import { Severity } from '../../src/domain/catalog.js';
import type { NewAuditEvent } from '../../src/domain/event.js';
import { ReplicaLog, type ReplicaRecord } from '../../src/store/replica-log.js';

const PARTITIONS = 3;

function record(partition: number, offset: number, id = `00000000-0000-4000-8000-${String(partition * 1000 + offset).padStart(12, '0')}`): ReplicaRecord {
  const event: NewAuditEvent = {
    id, type: 'CALL_CREATED', severity: Severity.INFO, timestamp: new Date(1_700_000_000_000 + offset), userId: 'u',
    entityType: 'call', entityId: `c${partition}`, action: 'create', result: 'SUCCESS', metadata: { offset }, correlationId: '',
    source: '', traceparent: '', metadataSalts: { offset: Buffer.alloc(16, offset) },
  };
  return { event, receivedAt: new Date(1_700_000_000_000), partition, offset };
}

/** Per partition `counts[p]` records, read in the order `picks` chooses among partitions (each keeps offset order). */
function interleave(counts: readonly number[], picks: readonly number[]): ReplicaRecord[] {
  const next = counts.map(() => 0);
  const out: ReplicaRecord[] = [];
  let pick = 0;
  while (out.length < counts.reduce((a, b) => a + b, 0)) {
    const open = counts.map((_count, p) => p).filter((p) => next[p] < counts[p]);
    const p = open[(picks[pick++ % Math.max(1, picks.length)] ?? 0) % open.length];
    out.push(record(p, next[p]++));
  }
  return out;
}

function replicaOf(records: readonly ReplicaRecord[]): ReplicaLog {
  const log = new ReplicaLog(new Array<number>(PARTITIONS).fill(0), 100_000);
  for (const r of records) log.add(r);
  return log;
}

test('a token from one node resumes on another node, read in another order, with exactly the events not seen', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 12 }), { minLength: PARTITIONS, maxLength: PARTITIONS }),
    fc.array(fc.nat(), { maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 40 }),
    fc.nat(),
    (counts, picksX, picksY, cutSeed) => {
      const x = replicaOf(interleave(counts, picksX));
      const y = replicaOf(interleave(counts, picksY));
      const all = x.readAfter(0, 1_000);
      const cut = cutSeed % (all.length + 1);
      const resumed = y.resolveCursor(x.cursorAt(cut), 'after_cursor');
      const delivered = y.readAfter(resumed.afterSequence, 1_000).filter((e) => !resumed.seen?.(e));
      assert.deepEqual(delivered.map((e) => e.id).sort(), all.slice(cut).map((e) => e.id).sort());
      // Same events, same per-partition order and the same hashes on both nodes.
      const byPartition = (events: typeof all) => [0, 1, 2].map((p) => events.filter((e) => e.position!.partition === p).map((e) => Buffer.from(e.hash).toString('hex')));
      assert.deepEqual(byPartition(y.readAfter(0, 1_000)), byPartition(all));
    },
  ), { numRuns: 300 });
});

test('an id read again later is a duplicate answered with the original; a re-read offset is ignored', () => {
  const log = replicaOf([record(0, 0), record(1, 0)]);
  const first = log.readAfter(0, 10)[0];
  const again = log.add(record(2, 0, first.id));
  assert.deepEqual(again, { event: first, duplicate: true });
  assert.equal(log.add(record(0, 0)), undefined);
  assert.equal(log.lastSequence(), 2);
  assert.deepEqual(log.nextOffsets(), [1, 1, 1], 'the duplicate still moved its partition on');
});

test('the per-partition chain verifies and a changed event breaks it', () => {
  const log = replicaOf(interleave([5, 5, 5], [0, 2, 1, 1, 0]));
  assert.deepEqual(log.verifyChain(), { ok: true, checked: 15, firstSequence: 1, lastSequence: 15 });
  const seventh = log.readAfter(6, 1)[0] as { action: string };
  seventh.action = 'tampered';
  const broken = log.verifyChain();
  assert.equal(broken.ok, false);
  assert.deepEqual(broken.firstBreak, { sequence: 7, kind: 'hash_mismatch' });
});

test('tokens that are not ours, of another topic shape or older than the history are refused', () => {
  const log = new ReplicaLog([5, 0, 0], 10);
  assert.throws(() => log.resolveCursor('12', 'after_cursor'), { code: 'INVALID_ARGUMENT', field: 'after_cursor' });
  assert.throws(() => log.resolveCursor('p1.0.0', 'after_cursor'), /names 2 partitions; the cluster topic has 3/);
  assert.throws(() => log.resolveCursor('p1.4.0.0', 'after_cursor'), { code: 'FAILED_PRECONDITION' });
  assert.equal(log.resolveCursor('p1.5.0.0', 'after_cursor').afterSequence, 0);
});

test('eviction beyond the capacity moves the history start, and a token before it is refused', () => {
  const log = new ReplicaLog([0, 0, 0], 8);
  const records = interleave([10, 10, 10], [0, 1, 2]);
  records.forEach((r) => log.add(r));
  assert.ok(log.firstSequence() > 1, 'old events were evicted');
  assert.throws(() => log.resolveCursor('p1.0.0.0', 'after_cursor'), { code: 'FAILED_PRECONDITION' });
  const held = log.readAfter(0, 100);
  const resumed = log.resolveCursor(log.cursorAt(held[0].sequence), 'after_cursor');
  assert.deepEqual(log.readAfter(resumed.afterSequence, 100).filter((e) => !resumed.seen?.(e)).map((e) => e.id), held.slice(1).map((e) => e.id));
});

test('every token a node hands out after an after_cursor subscribe (started, heartbeats, event cursors) resumes exactly on another node', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 10 }), { minLength: PARTITIONS, maxLength: PARTITIONS }),
    fc.array(fc.nat(), { maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 40 }),
    fc.nat(),
    fc.nat(),
    (counts, picksX, picksY, cutSeed, stepSeed) => {
      const x = replicaOf(interleave(counts, picksX));
      const y = replicaOf(interleave(counts, picksY));
      const all = x.readAfter(0, 1_000);
      const cut = cutSeed % (all.length + 1);
      const expected = all.slice(cut).map((e) => e.id);
      // On y, subscribed after x's token: what it delivers, and the tokens it hands out as it goes.
      const resumed = y.resolveCursor(x.cursorAt(cut), 'after_cursor');
      const raise = resumed.raise ?? ((t: string) => t);
      const delivered = y.readAfter(resumed.afterSequence, 1_000).filter((e) => !resumed.seen?.(e));
      assert.deepEqual(delivered.map((e) => e.id).sort(), [...expected].sort());
      const tokens: Array<{ token: string; had: number }> = [{ token: raise(y.cursorAt(resumed.afterSequence)), had: 0 }]; // started
      delivered.forEach((e, i) => tokens.push({ token: raise(e.cursor!), had: i + 1 })); // each event's cursor
      const step = 1 + (stepSeed % 3);
      for (let seq = resumed.afterSequence; seq <= y.lastSequence(); seq += step) { // heartbeats between deliveries
        tokens.push({ token: raise(y.cursorAt(seq)), had: delivered.filter((e) => e.sequence <= seq).length });
      }
      // Resuming from any of them on x delivers exactly what the subscriber did not have yet.
      for (const { token, had } of tokens) {
        const again = x.resolveCursor(token, 'after_cursor');
        const rest = x.readAfter(again.afterSequence, 1_000).filter((e) => !again.seen?.(e)).map((e) => e.id);
        assert.deepEqual(rest.sort(), delivered.slice(had).map((e) => e.id).sort(), `from ${token} after ${had} events`);
      }
    },
  ), { numRuns: 300 });
});
