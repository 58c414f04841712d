/**
 * SQLite event log benchmark (scenario 7 of `npm run bench`, which runs it as a child process and
 * takes its figures over IPC); also by itself: `npx tsx bench/sqlite-log.bench.ts [events]` (default
 * 1,000,000). Fills a temporary database in batches of 500 (append rate: the median of ten segments of
 * the fill), then measures single-event appends, history queries (one entity id, one-hour windows...),
 * sequenceBefore, catch-up reads and chain verification (three passes over the newest 200,000 events
 * at most). Single-threaded; the database is removed afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EVENT_TYPES, RESULTS, type Severity } from '../src/domain/catalog.js';
import type { NewAuditEvent } from '../src/domain/event.js';
import { SqliteEventLog } from '../src/store/sqlite-event-log.js';
import { seededRandom } from './support/random.js';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const SEGMENTS = 10;
const VERIFY_PASSES = 3;
const VERIFY_MAX = 200_000;
// Forked by `npm run bench`: stop when the bench goes away.
if (process.send) process.on('disconnect', () => process.exit(1));
const BATCH = 500;
const SINGLE_APPENDS = 1_000;
const ENTITIES = 20_000;
const USERS = 5_000;
const HOUR = 3_600_000;
const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const SPAN = 30 * 24 * HOUR; // events spread over 30 days
const STEP = SPAN / TOTAL;

const random = seededRandom();
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const ENTITY_TYPES = ['call', 'bid', 'payment', 'user', 'config'];

let made = 0;
function makeEvent(): NewAuditEvent {
  const n = made++;
  return {
    id: `evt-${n.toString(36)}-${Math.floor(random() * 1e9).toString(36)}`,
    type: pick(EVENT_TYPES),
    severity: (1 + Math.floor(random() * 5)) as Severity,
    // Roughly in order with up to a minute of jitter either way, like real publishers.
    timestamp: new Date(Math.round(T0 + n * STEP + (random() - 0.5) * 120_000)),
    userId: `user-${Math.floor(random() * USERS)}`,
    entityType: pick(ENTITY_TYPES),
    entityId: `entity-${Math.floor(random() * ENTITIES)}`,
    action: pick(['create', 'update', 'delete', 'read']),
    result: pick(RESULTS),
    metadata: { ip: `10.0.${n % 256}.${(n >> 8) % 256}`, amount: Math.round(random() * 10_000) / 100, tags: ['a', 'b'] },
    correlationId: `corr-${Math.floor(n / 4)}`,
    source: pick(['api', 'dialer', 'billing']),
    traceparent: '',
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => `${n.toFixed(2)} ms`;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export interface QueryFigure {
  readonly label: string;
  readonly runs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  readonly avgRows: number;
}

export interface SqliteLogResult {
  readonly events: number;
  readonly appendBatch: number;
  readonly appendEventsPerSecond: number;
  readonly appendSegmentRates: number[];
  readonly fillSeconds: number;
  readonly singleAppendsPerSecond: number;
  readonly databaseMiB: number;
  readonly queries: QueryFigure[];
  readonly verifyEventsPerSecond: number;
  readonly verifyPassRates: number[];
  readonly verifiedPerPass: number;
  readonly verifyOk: boolean;
  readonly peakRssMiB: number;
}

const queries: QueryFigure[] = [];

function latency(label: string, runs: number, fn: (i: number) => number): void {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    rows += fn(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(runs / 2)];
  const p95 = times[Math.min(runs - 1, Math.floor(runs * 0.95))];
  console.log(`  ${label}: p50 ${ms(p50)}, p95 ${ms(p95)}, max ${ms(times[runs - 1])} (avg ${fmt(rows / runs)} rows)`);
  queries.push({ label, runs, p50Ms: p50, p95Ms: p95, maxMs: times[runs - 1], avgRows: rows / runs });
}

async function main(): Promise<SqliteLogResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-bench-'));
  const file = path.join(dir, 'events.db');
  let nowMs = T0;
  const clock = { now: () => new Date(nowMs) };
  const log = new SqliteEventLog({ path: file, clock });
  try {
    console.log(`SQLite event log bench: ${fmt(TOTAL)} events, synchronous=full, ${file}`);

    // Fill in batches of 500 (group commit), timing each tenth of the fill.
    let t = performance.now();
    const segmentRates: number[] = [];
    const segment = Math.max(BATCH, Math.ceil(TOTAL / SEGMENTS / BATCH) * BATCH);
    let segmentStart = t;
    for (let done = 0; done < TOTAL; done += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, TOTAL - done) }, makeEvent);
      nowMs = T0 + done * STEP;
      await log.append(batch);
      const appended = done + batch.length;
      if (appended % segment === 0 || appended === TOTAL) {
        const now = performance.now();
        segmentRates.push(((appended - 1) % segment + 1) / ((now - segmentStart) / 1000));
        segmentStart = now;
        process.stdout.write(`  ...${fmt(appended)}\n`);
      }
    }
    let elapsed = (performance.now() - t) / 1000;
    const fillSeconds = elapsed;
    const appendRate = median(segmentRates);
    console.log(`append, batches of ${BATCH}: ${fmt(TOTAL / elapsed)} events/s overall (${elapsed.toFixed(1)} s), median of ${segmentRates.length} segments ${fmt(appendRate)} events/s`);

    // Single-event appends (one transaction and one WAL sync each).
    t = performance.now();
    for (let i = 0; i < SINGLE_APPENDS; i++) await log.append([makeEvent()]);
    elapsed = (performance.now() - t) / 1000;
    const singleRate = SINGLE_APPENDS / elapsed;
    console.log(`append, batches of 1: ${fmt(singleRate)} events/s (${SINGLE_APPENDS} appends, ${elapsed.toFixed(2)} s)`);

    const size = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    console.log(`database size: ${(size / 2 ** 20).toFixed(0)} MiB, last sequence ${fmt(log.lastSequence())}`);

    console.log('query latency (20 runs each, different values):');
    latency('one entity id, desc, limit 100', 20, (i) =>
      log.query({ entityIds: [`entity-${(i * 997) % ENTITIES}`], order: 'desc', limit: 100 }).events.length,
    );
    latency('one entity id, asc, limit 1000 (all of it)', 20, (i) =>
      log.query({ entityIds: [`entity-${(i * 991) % ENTITIES}`], order: 'asc', limit: 1000 }).events.length,
    );
    const hourStart = (i: number): number => T0 + ((i * 37) % (SPAN / HOUR - 1)) * HOUR;
    latency('one-hour window, desc, limit 100', 20, (i) =>
      log.query({ start: new Date(hourStart(i)), end: new Date(hourStart(i) + HOUR - 1), order: 'desc', limit: 100 })
        .events.length,
    );
    latency('one-hour window, asc, limit 5000 (all of it)', 20, (i) =>
      log.query({ start: new Date(hourStart(i)), end: new Date(hourStart(i) + HOUR - 1), order: 'asc', limit: 5000 })
        .events.length,
    );
    const weekStart = (i: number): number => T0 + ((i * 37) % (SPAN / HOUR - 7 * 24)) * HOUR;
    latency('seven-day window, desc, limit 100', 10, (i) =>
      log.query({ start: new Date(weekStart(i)), end: new Date(weekStart(i) + 7 * 24 * HOUR), order: 'desc', limit: 100 })
        .events.length,
    );
    latency('one type + one-hour window, desc, limit 100', 20, (i) =>
      log.query({
        eventTypes: [EVENT_TYPES[i % EVENT_TYPES.length]],
        start: new Date(hourStart(i)),
        end: new Date(hourStart(i) + HOUR - 1),
        order: 'desc',
        limit: 100,
      }).events.length,
    );
    latency('open-ended: start = an hour before the newest, asc, limit 100', 5, () =>
      log.query({ start: new Date(T0 + SPAN - HOUR), order: 'asc', limit: 100 }).events.length,
    );
    latency('open-ended: end = an hour after the oldest, desc, limit 100', 5, () =>
      log.query({ end: new Date(T0 + HOUR), order: 'desc', limit: 100 }).events.length,
    );
    latency('one user id + predicate (severity >= 4), desc, limit 50', 20, (i) =>
      log.query({ userIds: [`user-${i * 13}`], order: 'desc', limit: 50, predicate: (e) => e.severity >= 4 }).events
        .length,
    );
    latency('sequenceBefore (time spread over the whole span)', 20, (i) => {
      log.sequenceBefore(new Date(T0 + ((i * 7919) % 20) * (SPAN / 20)));
      return 1;
    });
    latency('readAfter 500 (catch-up read)', 20, (i) => log.readAfter((i * 49_999) % TOTAL, 500).length);

    const last = log.lastSequence();
    const from = Math.max(1, last - VERIFY_MAX + 1);
    const passRates: number[] = [];
    let verifyOk = true;
    let checked = 0;
    for (let pass = 0; pass < VERIFY_PASSES; pass++) {
      t = performance.now();
      const result = log.verifyChain(from, last);
      elapsed = (performance.now() - t) / 1000;
      verifyOk &&= result.ok;
      checked = result.checked;
      passRates.push(result.checked / elapsed);
      console.log(`verifyChain ${fmt(from)}..${fmt(last)}: ok=${result.ok}, ${fmt(result.checked)} events in ${elapsed.toFixed(1)} s = ${fmt(result.checked / elapsed)} events/s`);
    }
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(`peak RSS: ${fmt(peakRssMiB)} MiB`);
    return {
      events: TOTAL, appendBatch: BATCH, appendEventsPerSecond: appendRate, appendSegmentRates: segmentRates, fillSeconds,
      singleAppendsPerSecond: singleRate, databaseMiB: size / 2 ** 20, queries, verifyEventsPerSecond: median(passRates),
      verifyPassRates: passRates, verifiedPerPass: checked, verifyOk, peakRssMiB,
    };
  } finally {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const result = await main();
// Run by `npm run bench` (forked with an IPC channel): hand the figures over.
if (process.send) {
  process.send({ type: 'result', ...result }, () => process.exit(0));
}
