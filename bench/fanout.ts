/**
 * Scenario 3, fan-out: one publisher process (PublishBatch of 100, 4 calls in flight), K subscribers
 * with match-all filters spread over a few subscriber processes, each subscription on its own
 * channel (HTTP/2 connection), the server in its own process. Delivered events/s counts from the
 * first publish to the last event received by any subscriber; every subscription must receive every
 * event: delivered / (published x K) = 1.
 */
import type { WorkerMessage } from './support/processes.js';
import { compare, type BenchContext, type ScenarioResult } from './support/report.js';
import { int, medianOf, ratio, times } from './support/stats.js';
import { openPublisher, SubscriberGroup } from './support/subscribers.js';
import { withTarget, type TargetKind } from './support/target.js';

export interface FanoutRun {
  readonly subscribers: number;
  readonly published: number;
  readonly publishedPerSecond: number;
  readonly delivered: number;
  readonly deliveredPerSecond: number;
  /** delivered / (published x K): must be 1. */
  readonly deliveryRatio: number;
  readonly complete: boolean;
  readonly outOfOrder: number;
  readonly seconds: number;
  readonly publishErrors: number;
  readonly streamErrors: number;
}

interface PublishResult extends WorkerMessage {
  readonly published: number;
  readonly firstSendUs: number;
  readonly lastAckUs: number;
  readonly errors: number;
  readonly errorSample: string;
}

const MAX_RUN_MS = 180_000;
const STALL_MS = 15_000;

export async function fanout(kind: TargetKind, subscribers: number, events: number): Promise<FanoutRun> {
  return withTarget(kind, {}, async (target) => {
    const processes = subscribers === 1 ? 1 : subscribers <= 10 ? 2 : 4;
    const group = await SubscriberGroup.open(target, { subscriptions: subscribers, processes, perChannel: 1 });
    try {
      const publisher = await openPublisher(target);
      let pub: PublishResult;
      try {
        publisher.send({ type: 'run', mode: 'count', total: events, batch: 100, inFlight: 4 });
        pub = await publisher.next<PublishResult>('result', MAX_RUN_MS);
      } finally {
        await publisher.stop();
      }
      const got = await group.expectAll(pub.published, STALL_MS, MAX_RUN_MS);
      const seconds = (got.lastReceiveUs - pub.firstSendUs) / 1e6;
      return {
        subscribers,
        published: pub.published,
        publishedPerSecond: pub.published / ((pub.lastAckUs - pub.firstSendUs) / 1e6),
        delivered: got.delivered,
        deliveredPerSecond: got.delivered / seconds,
        deliveryRatio: got.delivered / (pub.published * subscribers),
        complete: got.complete,
        outOfOrder: got.outOfOrder,
        seconds,
        publishErrors: pub.errors,
        streamErrors: got.streamErrors,
      };
    } finally {
      await group.close();
    }
  });
}

export async function fanoutScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const plan: Array<[number, number]> = ctx.quick
    ? [[1, 5_000], [10, 5_000], [100, 1_000]]
    : [[1, 10_000], [10, 10_000], [100, 2_000], [1_000, 300]];
  const rows: string[][] = [];
  const data: unknown[] = [];
  const notes: string[] = [];
  for (const [k, events] of plan) {
    const label = `fan-out K=${k}`;
    const runs = await compare(ctx, label, (kind) => fanout(kind, k, events), (r) =>
      `${int(r.deliveredPerSecond)} deliveries/s, published ${int(r.publishedPerSecond)}/s, delivered/(published x K) ${r.deliveryRatio.toFixed(4)}` +
      `${r.outOfOrder ? `, ${r.outOfOrder} out of order` : ''}${r.publishErrors ? `, ${r.publishErrors} publish errors` : ''}`);
    const ours = medianOf(runs.auditstream, (r) => r.deliveredPerSecond);
    const bare = medianOf(runs.baseline, (r) => r.deliveredPerSecond);
    const worst = (rs: FanoutRun[]): string => (rs.length ? Math.min(...rs.map((r) => r.deliveryRatio)).toFixed(3) : 'n/a');
    rows.push([
      String(k), int(events), int(ours), int(bare), times(ratio(ours, bare)), worst(runs.auditstream), worst(runs.baseline),
      int(medianOf(runs.auditstream, (r) => r.publishedPerSecond)), int(medianOf(runs.baseline, (r) => r.publishedPerSecond)),
    ]);
    data.push({ subscribers: k, events, medians: { auditstream: { deliveredPerSecond: ours }, baseline: { deliveredPerSecond: bare } }, runs });
    notes.push(...runs.failures.map((f) => `${label}: ${f}`));
    const disordered = runs.auditstream.concat(runs.baseline).filter((r) => r.outOfOrder > 0);
    if (disordered.length) notes.push(`${label}: events out of sequence order in ${disordered.length} run(s)`);
  }
  return {
    id: 'fanout', title: '3. Fan-out (one publisher, K match-all subscribers)', data,
    headers: ['K', 'events', 'auditstream deliveries/s', 'bare grpc-js deliveries/s', 'ratio', 'auditstream delivered/(published x K)', 'bare delivered/(published x K)', 'auditstream published/s', 'bare published/s'],
    rows,
    notes: [
      'PublishBatch of 100 with 4 calls in flight from one process; subscribers spread over 1, 2 or 4 processes, one channel per subscription. Deliveries/s = events received by all subscribers / time from the first publish to the last receipt. delivered/(published x K) is the lowest over the repetitions and must be 1.000.',
      ...notes,
    ],
  };
}
