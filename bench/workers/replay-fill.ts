/**
 * Bench worker for the replay scenario: fills a new event log with `count` deterministic events
 * through the real log class (src/store/sqlite-event-log.ts), so the hashes, commitments and indexes
 * are exactly what a server writes, without publishing a million events over gRPC. Commits with
 * synchronous=normal on the calling thread: the fill is setup, not a measured figure. The log is
 * closed at the end, which checkpoints the WAL into the database file, so the file alone is the log.
 * Commands (IPC): fill {path, count}. Replies: filled {events, seconds, bytes}.
 */
import { statSync } from 'node:fs';
import { EVENT_TYPES, RESULTS, type Severity } from '../../src/domain/catalog.js';
import type { NewAuditEvent } from '../../src/domain/event.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { seededRandom } from '../support/random.js';
import { reply, serveParent } from '../support/worker-ipc.js';

/** Events per append (one transaction each). */
const BATCH = 2_000;
const USERS = 5_000;
const ENTITIES = 20_000;
const ENTITY_TYPES = ['call', 'bid', 'payment', 'user', 'config'];
const ACTIONS = ['create', 'update', 'delete', 'read'];
const SOURCES = ['api', 'dialer', 'billing'];
const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const SPAN_MS = 30 * 24 * 3_600_000;

async function fill(file: string, count: number): Promise<void> {
  // The same seed every run: the same events, so runs on different days compare.
  const random = seededRandom();
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const stepMs = SPAN_MS / count;
  let receivedMs = T0;
  const log = new SqliteEventLog({ path: file, clock: { now: () => new Date(receivedMs) }, synchronous: 'normal', writerThread: false });
  const started = performance.now();
  try {
    for (let done = 0; done < count; done += BATCH) {
      const batch: NewAuditEvent[] = [];
      for (let n = done; n < Math.min(count, done + BATCH); n++) {
        batch.push({
          id: `evt-${n.toString(36)}`,
          type: pick(EVENT_TYPES),
          severity: (1 + Math.floor(random() * 5)) as Severity,
          timestamp: new Date(Math.round(T0 + n * stepMs)),
          userId: `user-${Math.floor(random() * USERS)}`,
          entityType: pick(ENTITY_TYPES),
          entityId: `entity-${Math.floor(random() * ENTITIES)}`,
          action: pick(ACTIONS),
          result: pick(RESULTS),
          metadata: { amount: Math.round(random() * 10_000) / 100, region: n % 3 === 0 ? 'eu-west' : 'us-east' },
          correlationId: `corr-${Math.floor(n / 4)}`,
          source: pick(SOURCES),
          traceparent: '',
        });
      }
      receivedMs = T0 + done * stepMs;
      await log.append(batch);
    }
  } finally {
    await log.close();
  }
  reply({ type: 'filled', events: count, seconds: (performance.now() - started) / 1000, bytes: statSync(file).size });
}

serveParent(async (m) => {
  if (m.type === 'fill') await fill(String(m.path), Number(m.count));
  else if (m.type === 'close') process.exit(0);
});
