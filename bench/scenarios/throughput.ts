import type { WorkerMessage } from '../support/processes.js';
import { compare, type BenchContext, type ScenarioResult } from '../support/report.js';
import { fixed, int, medianOf, ratio, times } from '../support/stats.js';
import { openPublisher } from '../support/subscribers.js';
import { withTarget, type TargetKind } from '../support/target.js';

interface ClosedLoopResult {
  readonly eventsPerSecond: number;
  readonly calls: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly errors: number;
  readonly errorSample: string;
}

/** One publisher process, `inFlight` calls outstanding, no subscribers. */
async function closedLoop(ctx: BenchContext, kind: TargetKind, mode: 'unary' | 'batch', inFlight: number, batch: number): Promise<ClosedLoopResult> {
  return withTarget(kind, {}, async (target) => {
    const publisher = await openPublisher(target);
    try {
      const warmupMs = 1_000;
      const durationMs = ctx.quick ? 2_000 : 4_000;
      publisher.send({ type: 'run', mode, inFlight, batch, warmupMs, durationMs });
      const r = await publisher.next<WorkerMessage & ClosedLoopResult>('result', warmupMs + durationMs + 60_000);
      return { eventsPerSecond: r.eventsPerSecond, calls: r.calls, ackP50Ms: r.ackP50Ms, ackP99Ms: r.ackP99Ms, errors: r.errors, errorSample: r.errorSample };
    } finally {
      await publisher.stop();
    }
  });
}

const describe = (r: ClosedLoopResult): string =>
  `${int(r.eventsPerSecond)} events/s, ack p99 ${fixed(r.ackP99Ms)} ms${r.errors ? `, ${r.errors} errors (${r.errorSample})` : ''}`;

function rowsFor(label: string, runs: { auditstream: ClosedLoopResult[]; baseline: ClosedLoopResult[] }): { row: string[]; data: unknown } {
  const ours = medianOf(runs.auditstream, (r) => r.eventsPerSecond);
  const bare = medianOf(runs.baseline, (r) => r.eventsPerSecond);
  const oursP99 = medianOf(runs.auditstream, (r) => r.ackP99Ms);
  const bareP99 = medianOf(runs.baseline, (r) => r.ackP99Ms);
  const errors = [...runs.auditstream, ...runs.baseline].reduce((s, r) => s + r.errors, 0);
  return {
    row: [label, int(ours), int(bare), times(ratio(ours, bare)), fixed(oursP99), fixed(bareP99), String(errors)],
    data: { label, medians: { auditstream: { eventsPerSecond: ours, ackP99Ms: oursP99 }, baseline: { eventsPerSecond: bare, ackP99Ms: bareP99 } }, runs },
  };
}

const HEADERS = ['configuration', 'auditstream events/s', 'bare grpc-js events/s', 'ratio', 'auditstream ack p99 ms', 'bare ack p99 ms', 'errors'];

/** Scenario 1: unary Publish, 64 and 256 calls in flight from one publisher process. */
export async function unaryScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: string[][] = [];
  const data: unknown[] = [];
  const failures: string[] = [];
  for (const inFlight of [64, 256]) {
    const label = `unary Publish, ${inFlight} in flight`;
    const runs = await compare(ctx, label, (kind) => closedLoop(ctx, kind, 'unary', inFlight, 1), describe);
    const r = rowsFor(label, runs);
    rows.push(r.row);
    data.push(r.data);
    failures.push(...runs.failures.map((f) => `${label}: ${f}`));
  }
  return {
    id: 'unary', title: '1. Unary Publish throughput', headers: HEADERS, rows, data,
    notes: [
      'One publisher process, one channel, a closed loop with that many calls outstanding; no subscribers. Events acknowledged per second over the measured window (after a warm-up). auditstream acknowledges after the SQLite commit; the bare server answers at once.',
      ...failures,
    ],
  };
}

/** Scenario 2: PublishBatch of 100 events, 1 and 8 calls in flight. */
export async function batchScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: string[][] = [];
  const data: unknown[] = [];
  const failures: string[] = [];
  for (const inFlight of [1, 8]) {
    const label = `PublishBatch x100, ${inFlight} in flight`;
    const runs = await compare(ctx, label, (kind) => closedLoop(ctx, kind, 'batch', inFlight, 100), describe);
    const r = rowsFor(label, runs);
    rows.push(r.row);
    data.push(r.data);
    failures.push(...runs.failures.map((f) => `${label}: ${f}`));
  }
  return {
    id: 'batch', title: '2. PublishBatch throughput (100 events per call)', headers: HEADERS, rows, data,
    notes: ['Events acknowledged per second (every event of a batch accepted); ack p99 is per call. No subscribers.', ...failures],
  };
}
