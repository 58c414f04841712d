import { Worker, type WorkerMessage } from '../support/processes.js';
import type { BenchContext, ScenarioResult } from '../support/report.js';
import { fixed, int, times } from '../support/stats.js';

interface FilterResult {
  readonly subscriptions: number;
  readonly indexNsPerEvent: number;
  readonly linearNsPerEvent: number;
  readonly matchesPerEvent: number;
  readonly disagreements: number;
  readonly indexBuildMs: number;
  readonly freshIndexNsPerEvent: number;
  readonly routeCacheNsPerEvent: number;
  readonly routeCacheHitRate: number;
  readonly hotIndexNsPerEvent: number;
  readonly hotRouteCacheNsPerEvent: number;
  readonly hotRouteCacheHitRate: number;
}

/** Scenario 5: SubscriptionIndex vs a linear scan, in a process of its own (bench/workers/filter-match.ts). */
export async function filterScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const worker = new Worker('workers/filter-match.ts', 'filter bench');
  let reply: WorkerMessage & { results: FilterResult[]; mix: string[] };
  try {
    worker.send({ type: 'run', sizes, minMs: ctx.quick ? 200 : 500, reps: ctx.reps });
    reply = await worker.next('result', 15 * 60_000);
  } finally {
    await worker.stop();
  }
  for (const r of reply.results) {
    ctx.log(`  N=${int(r.subscriptions)}: index ${int(r.indexNsPerEvent)} ns/event, linear ${int(r.linearNsPerEvent)} ns/event, ${fixed(r.matchesPerEvent)} matches/event`);
    ctx.log(`    fresh stream: index ${int(r.freshIndexNsPerEvent)}, route cache ${int(r.routeCacheNsPerEvent)} ns/event (hit rate ${fixed(r.routeCacheHitRate * 100)}%); hot stream: index ${int(r.hotIndexNsPerEvent)}, cache ${int(r.hotRouteCacheNsPerEvent)} ns/event (hit rate ${fixed(r.hotRouteCacheHitRate * 100)}%)`);
  }
  const disagreeing = reply.results.filter((r) => r.disagreements > 0);
  return {
    id: 'filter', title: '5. Filter matching cost (ns per event)', data: reply,
    headers: ['subscriptions N', 'index ns/event', 'linear scan ns/event', 'index speed-up', 'matches per event', 'index build ms',
      'fresh stream: index / + route cache ns/event (hit rate)', 'hot stream: index / + route cache ns/event (hit rate)'],
    rows: reply.results.map((r) => [
      int(r.subscriptions), int(r.indexNsPerEvent), int(r.linearNsPerEvent), times(r.linearNsPerEvent / r.indexNsPerEvent),
      fixed(r.matchesPerEvent), int(r.indexBuildMs),
      `${int(r.freshIndexNsPerEvent)} / ${int(r.routeCacheNsPerEvent)} (${fixed(r.routeCacheHitRate * 100)}%)`,
      `${int(r.hotIndexNsPerEvent)} / ${int(r.hotRouteCacheNsPerEvent)} (${fixed(r.hotRouteCacheHitRate * 100)}%)`,
    ]),
    notes: [
      `In-process (src/filtering: compileFilter + SubscriptionIndex.forEachMatch, against calling every compiled filter), 2,000 varied events, median of ${ctx.reps} timing(s) of at least ${ctx.quick ? 200 : 500} ms. Filter mix: ${reply.mix.join('; ')}. Events: uniform over the 47 types, 5 severities, 5 entity types, 10,000 entities, 5,000 users.`,
      'Route cache (lru-cache, 10,000 keys, keyed by type, severity, entity type, entity id and user id): an upper bound, caching whole match lists. Each stream is 20,000 events routed once with a cold cache: "fresh" as above (uniform), "hot" with 90% of events repeating one of 50 routing keys.',
      disagreeing.length ? `The index and the linear scan DISAGREE on matches for N = ${disagreeing.map((r) => r.subscriptions).join(', ')}.` : 'The index and the linear scan found the same matches for every event.',
    ],
  };
}
