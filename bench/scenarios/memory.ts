import { Worker } from '../support/processes.js';
import type { BenchContext, ScenarioResult } from '../support/report.js';
import { int, median, sleep } from '../support/stats.js';
import { SubscriberGroup } from '../support/subscribers.js';
import { withTarget, type ProcessMemory, type Target, type TargetKind } from '../support/target.js';

type Transport = 'grpc' | 'websocket';

interface MemoryRun {
  readonly subscriptions: number;
  readonly rssPerSubscription: number;
  readonly heapPerSubscription: number;
  readonly externalPerSubscription: number;
  readonly before: ProcessMemory;
  readonly after: ProcessMemory;
}

/** Subscriptions per HTTP/2 connection or WebSocket connection. */
const PER_CONNECTION = 100;
const PROCESSES = 2;

/** Lifts the limits that 10,000 subscriptions would hit (max_subscriptions is 10,000 by default). */
const YAML = [
  'audit:', '  subscriber:', '    max_subscriptions: 50000',
  'websocket:', '  max_connections: 20000', '  max_frames_per_second: 100000', '',
].join('\n');

async function openWebSockets(target: Target, n: number): Promise<Worker[]> {
  const workers = Array.from({ length: PROCESSES }, (_, i) => new Worker('workers/ws-subscriber.ts', `ws subscriber ${i + 1}`));
  const url = `ws://127.0.0.1:${target.httpPort}/v1/stream`;
  const perProcess = Math.ceil(n / PROCESSES / PER_CONNECTION);
  for (const w of workers) w.send({ type: 'open', url, connections: perProcess, perConnection: PER_CONNECTION });
  try {
    await Promise.all(workers.map((w) => w.next('ready', 60_000 + n * 20)));
  } catch (err) {
    await Promise.all(workers.map((w) => w.stop()));
    throw err;
  }
  return workers;
}

async function memoryRun(kind: TargetKind, transport: Transport, n: number): Promise<MemoryRun> {
  return withTarget(kind, { yaml: YAML, http: transport === 'websocket' }, async (target) => {
    await sleep(1_500);
    const before = await target.memory();
    let close: () => Promise<void>;
    let opened: number;
    if (transport === 'grpc') {
      const group = await SubscriberGroup.open(target, { subscriptions: n, processes: PROCESSES, perChannel: PER_CONNECTION });
      close = () => group.close();
      opened = n;
    } else {
      const workers = await openWebSockets(target, n);
      close = () => Promise.all(workers.map((w) => w.stop())).then(() => undefined);
      opened = PROCESSES * Math.ceil(n / PROCESSES / PER_CONNECTION) * PER_CONNECTION;
    }
    try {
      await sleep(2_000);
      const after = await target.memory();
      return {
        subscriptions: opened,
        rssPerSubscription: (after.rss - before.rss) / opened,
        heapPerSubscription: (after.heapUsed - before.heapUsed) / opened,
        externalPerSubscription: (after.external - before.external) / opened,
        before, after,
      };
    } finally {
      await close();
    }
  });
}

/** Scenario 6: server memory per idle subscription (gRPC and WebSocket), bare grpc-js for reference. */
export async function memoryScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.memorySubscriptions;
  const plan: Array<[TargetKind, Transport]> = [['auditstream', 'grpc'], ['auditstream', 'websocket'], ['baseline', 'grpc']];
  const rows: string[][] = [];
  const data: unknown[] = [];
  const notes: string[] = [];
  for (const [kind, transport] of plan) {
    const runs: MemoryRun[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      try {
        const r = await memoryRun(kind, transport, n);
        runs.push(r);
        ctx.log(`  ${kind} ${transport}, run ${rep + 1}/${ctx.reps}: ${int(r.rssPerSubscription)} B RSS, ${int(r.heapPerSubscription)} B heap, ${int(r.externalPerSubscription)} B external per subscription`);
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
        notes.push(`${kind} ${transport} run ${rep + 1}: ${message}`);
        ctx.log(`  ${kind} ${transport}, run ${rep + 1}/${ctx.reps}: FAILED ${message}`);
      }
    }
    const m = (pick: (r: MemoryRun) => number): number => median(runs.map(pick));
    rows.push([
      kind === 'auditstream' ? 'auditstream' : 'bare grpc-js (reference)', transport, int(runs[0]?.subscriptions ?? n),
      int(m((r) => r.rssPerSubscription)), int(m((r) => r.heapPerSubscription)), int(m((r) => r.externalPerSubscription)),
    ]);
    data.push({ kind, transport, runs });
  }
  return {
    id: 'memory', title: `6. Memory per idle subscription (${int(n)} subscriptions)`, data,
    headers: ['server', 'transport', 'subscriptions', 'RSS bytes / subscription', 'JS heap bytes / subscription', 'external bytes / subscription'],
    rows,
    notes: [
      `Server memory (after two full GCs) with ${int(n)} idle match-all subscriptions minus before any, divided by the count. ${PER_CONNECTION} subscriptions per connection (HTTP/2 streams on one channel, or subscriptions multiplexed on one WebSocket), opened from ${PROCESSES} processes. The bare grpc-js server holds streams that do nothing; it is shown for reference only.`,
      ...notes,
    ],
  };
}
