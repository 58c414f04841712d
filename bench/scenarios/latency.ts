import type { WorkerMessage } from '../support/processes.js';
import { compare, type BenchContext, type ScenarioResult } from '../support/report.js';
import { fixed, int, medianOf, percentile, ratio, times } from '../support/stats.js';
import { openPublisher, SubscriberGroup } from '../support/subscribers.js';
import { withTarget, type TargetKind } from '../support/target.js';

interface LatencyRun {
  readonly rate: number;
  readonly achievedRate: number;
  readonly sent: number;
  readonly acked: number;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly deliveryRatio: number;
  readonly publishErrors: number;
  /** From the last send to the last receipt: more than a second means the server (or machine) could not keep up with the rate. */
  readonly drainMs: number;
  /** How late the publisher sent, against each event's due time (not part of the latency). */
  readonly scheduleLagP99Ms: number;
}

interface RateResult extends WorkerMessage {
  readonly lastSendUs: number;
  readonly sent: number;
  readonly acked: number;
  readonly achievedRate: number;
  readonly errors: number;
  readonly scheduleLagP99Ms: number;
}

const SUBSCRIBERS = 10;
/** A run whose last event arrived more than this after the last send did not keep up with the rate. */
const SATURATED_MS = 250;
/** The publisher's pacing grid (bench/workers/publisher.ts rateRun): at most one call per TICK_MS. */
const TICK_MS = 2;
/** Not measured: the first second of a run warms up every process (JIT) and the connections. */
const WARMUP_MS = 1_000;

/**
 * Publishing at a fixed rate (open loop) from one process, on a TICK_MS grid with each tick's due
 * events in one call (Publish for one, PublishBatch for several); 10 match-all subscribers in two other
 * processes. Latency = receipt time - the send time the publisher wrote into the event, both read
 * from CLOCK_MONOTONIC (shared by every process on the machine), in µs. The first second is warm-up.
 */
async function latencyRun(ctx: BenchContext, kind: TargetKind, rate: number, synchronous?: 'normal'): Promise<LatencyRun> {
  const durationMs = WARMUP_MS + (ctx.quick ? 3_000 : 8_000);
  const warmupIndex = Math.round((rate * WARMUP_MS) / 1000);
  return withTarget(kind, synchronous ? { synchronous } : {}, async (target) => {
    const group = await SubscriberGroup.open(target, { subscriptions: SUBSCRIBERS, processes: 2, perChannel: 1, latency: true, warmupIndex });
    try {
      const publisher = await openPublisher(target);
      let pub: RateResult;
      try {
        publisher.send({ type: 'run', mode: 'rate', rate, durationMs, maxInFlight: 2_000, tickMs: TICK_MS, warmupIndex });
        pub = await publisher.next<RateResult>('result', durationMs + 60_000);
      } finally {
        await publisher.stop();
      }
      const got = await group.expectAll(pub.acked, 10_000, 60_000);
      const sorted = Float64Array.from(got.latenciesUs).sort();
      const ms = (p: number): number => percentile(sorted, p) / 1000;
      return {
        rate, achievedRate: pub.achievedRate, sent: pub.sent, acked: pub.acked, samples: sorted.length,
        p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: sorted.length ? sorted[sorted.length - 1] / 1000 : Number.NaN,
        deliveryRatio: got.delivered / (pub.acked * SUBSCRIBERS), publishErrors: pub.errors,
        drainMs: (got.lastReceiveUs - pub.lastSendUs) / 1000, scheduleLagP99Ms: pub.scheduleLagP99Ms,
      };
    } finally {
      await group.close();
    }
  });
}

export async function latencyScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: string[][] = [];
  const data: unknown[] = [];
  const notes: string[] = [];
  // The issue's goal has a `synchronous: normal` half; the bare server stores nothing, so that row
  // compares with the bare runs of the same rate above rather than running them again.
  const bareAt = new Map<number, LatencyRun[]>();
  for (const { rate, synchronous } of [{ rate: 1_000 }, { rate: 5_000 }, { rate: 1_000, synchronous: 'normal' as const }]) {
    const label = `latency at ${rate}/s, K=${SUBSCRIBERS}${synchronous ? `, synchronous: ${synchronous}` : ''}`;
    const runs = await compare(ctx, label, (kind) => latencyRun(ctx, kind, rate, synchronous), (r) =>
      `p50 ${fixed(r.p50Ms)} ms, p99 ${fixed(r.p99Ms)} ms, p99.9 ${fixed(r.p999Ms)} ms, max ${fixed(r.maxMs)} ms, ` +
      `rate ${int(r.achievedRate)}/s, publisher schedule lag p99 ${fixed(r.scheduleLagP99Ms)} ms, delivered/(published x K) ${r.deliveryRatio.toFixed(4)}, ` +
      `last receipt ${int(r.drainMs)} ms after the last send`, synchronous ? ['auditstream'] : undefined);
    if (synchronous) runs.baseline.push(...(bareAt.get(rate) ?? []));
    else bareAt.set(rate, runs.baseline);
    const m = (kindRuns: LatencyRun[], pick: (r: LatencyRun) => number): number => medianOf(kindRuns, pick);
    const ours = { p50: m(runs.auditstream, (r) => r.p50Ms), p99: m(runs.auditstream, (r) => r.p99Ms), p999: m(runs.auditstream, (r) => r.p999Ms) };
    const bare = { p50: m(runs.baseline, (r) => r.p50Ms), p99: m(runs.baseline, (r) => r.p99Ms), p999: m(runs.baseline, (r) => r.p999Ms) };
    const worst = (rs: LatencyRun[]): string => (rs.length ? Math.min(...rs.map((r) => r.deliveryRatio)).toFixed(3) : 'n/a');
    const kept = (rs: LatencyRun[]): string => {
      if (rs.length === 0) return 'n/a';
      const behind = rs.filter((r) => r.drainMs > SATURATED_MS).length;
      const drain = `last event ${int(medianOf(rs, (r) => r.drainMs))} ms after the last send`;
      return behind === 0 ? `yes (${drain})` : `no in ${behind} of ${rs.length} runs (${drain})`;
    };
    rows.push([
      `${int(rate)}/s${synchronous ? ` (auditstream with synchronous: ${synchronous}; bare: the runs above)` : ''}`,
      `${fixed(ours.p50)} / ${fixed(ours.p99)} / ${fixed(ours.p999)}`,
      `${fixed(bare.p50)} / ${fixed(bare.p99)} / ${fixed(bare.p999)}`,
      times(ratio(ours.p99, bare.p99)),
      worst(runs.auditstream), worst(runs.baseline), kept(runs.auditstream), kept(runs.baseline),
    ]);
    data.push({ rate, synchronous: synchronous ?? 'full', subscribers: SUBSCRIBERS, medians: { auditstream: ours, baseline: bare }, runs });
    const lag = (rs: LatencyRun[]): string => `${fixed(medianOf(rs, (r) => r.scheduleLagP99Ms))} ms`;
    if (synchronous) notes.push(`${int(rate)}/s with synchronous: ${synchronous}: publisher schedule lag p99 ${lag(runs.auditstream)}.`);
    else notes.push(`${int(rate)}/s: publisher schedule lag p99 ${lag(runs.auditstream)} in the auditstream runs, ${lag(runs.baseline)} in the bare runs.`);
    notes.push(...runs.failures.map((f) => `${label}: ${f}`));
  }
  return {
    id: 'latency', title: '4. Publish -> receive latency, K = 10 (ms, p50 / p99 / p99.9)', data,
    headers: ['rate', 'auditstream p50 / p99 / p99.9', 'bare grpc-js p50 / p99 / p99.9', 'p99 ratio (lower is better)', 'auditstream delivered/(published x K)', 'bare delivered/(published x K)', 'auditstream kept up', 'bare kept up'],
    rows,
    notes: [
      `A fixed event rate for ${ctx.quick ? 3 : 8} s after ${WARMUP_MS / 1000} s of warm-up (open loop): one publisher process paced on a ${TICK_MS} ms grid, each tick sending the events due so far in one call (Publish for one, PublishBatch for several), so a late tick does not lower the rate and there are at most ${1000 / TICK_MS} calls/s; 10 match-all subscribers in 2 processes, one channel each. Both targets get the same publisher and subscribers; the bare server writes the events of each call to each stream as one SubscribeResponse (batches of up to 100, as auditstream does; bench/baseline-server.ts says why). Latency is from the send time the publisher writes into the event to its receipt, on the machine's monotonic clock (µs resolution); the publisher's wait for its tick is not in it (its p99 is below, as schedule lag). Percentiles over every (event, subscriber) pair after the warm-up; medians over the repetitions. "Kept up: no" means the last event arrived more than ${SATURATED_MS} ms after the last send (median shown): deliveries fell behind the rate, so the latency grew with the backlog and measures the queue, not the path; the p99 ratio then means little.`,
      ...notes,
    ],
  };
}
