/**
 * What the store costs per event, in one process, without fsync: the group commit (sealing, hashing,
 * inserts; synchronous=NORMAL, no writer thread, so process CPU is the append's CPU), chain
 * verification (in place, and on reader threads as VerifyChain runs it), catch-up reads, and catch-up reads encoded as Subscribe frames (the replay path
 * minus the socket). For comparing changes to src/store and the wire encoding:
 *
 *   npx tsx bench/store-cost.ts [events, default 100,000]
 *   DROP=events_user_sequence npx tsx bench/store-cost.ts   # the same without some indexes (their cost per append)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NewAuditEvent, StoredAuditEvent } from '../src/domain/event.js';
import { SqliteEventLog } from '../src/store/sqlite-event-log.js';
import { eventsFrame } from '../src/transports/grpc/wire.js';

const TOTAL = Number(process.argv[2] ?? 100_000);
const BATCH = 100;

/** Event n: a login with three small metadata values, spread over 20,000 entities and 5,000 users. */
function makeEvent(n: number): NewAuditEvent {
  return {
    id: `7f3c1e2a-0000-4000-8000-${String(n).padStart(12, '0')}`, type: 'LOGIN_SUCCESS', severity: 2,
    timestamp: new Date(1_700_000_000_000 + n), userId: `user-${n % 5000}`, entityType: 'call', entityId: `entity-${n % 20000}`,
    action: 'create', result: 'SUCCESS', metadata: { ip: `10.0.${n % 256}.1`, amount: n / 100, tags: ['a', 'b'] },
    correlationId: `corr-${n}`, source: 'api', traceparent: '',
  };
}

/** Events per second of `pass`, which returns how many events it handled. */
async function rate(label: string, pass: () => number | Promise<number>): Promise<void> {
  const start = performance.now();
  const events = await pass();
  console.log(`${label}: ${Math.round(events / ((performance.now() - start) / 1000)).toLocaleString('en-US')} events/s`);
}

/** Every stored event, 500 at a time, as a catch-up reader takes them. */
function readAll(log: SqliteEventLog, each: (events: StoredAuditEvent[]) => void): number {
  let read = 0;
  for (let after = 0; ;) {
    const events = log.readAfter(after, 500);
    if (events.length === 0) return read;
    each(events);
    read += events.length;
    after = events.at(-1)!.sequence;
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-cost-'));
const log = new SqliteEventLog({ path: path.join(dir, 'audit.db'), clock: { now: () => new Date() }, synchronous: 'normal', writerThread: false });
for (const index of (process.env.DROP ?? '').split(',').filter(Boolean)) log.database.exec(`DROP INDEX ${index}`);
const batches = Array.from({ length: TOTAL / BATCH }, (_, b) => Array.from({ length: BATCH }, (__, i) => makeEvent(b * BATCH + i + 1)));
const cpu = process.cpuUsage();
await rate(`append, batches of ${BATCH}`, () => {
  for (const batch of batches) void log.append(batch); // commits in place: no writer thread
  return TOTAL;
});
const used = process.cpuUsage(cpu);
console.log(`  ${((used.user + used.system) / TOTAL).toFixed(1)} us of CPU per appended event`);
await rate('chain verification, in place', () => log.verifyChain().checked);
await rate('catch-up reads', () => readAll(log, () => {}));
await rate('catch-up reads encoded as Subscribe frames', () => readAll(log, (events) => eventsFrame(events)));
await log.close();
// Reopened as the server opens it (writer thread), so VerifyChain's reader threads are used.
const served = new SqliteEventLog({ path: path.join(dir, 'audit.db'), clock: { now: () => new Date() } });
await rate('chain verification on reader threads (VerifyChain)', async () => (await served.verifyChainOffThread()).checked);
await served.close();
fs.rmSync(dir, { recursive: true });
