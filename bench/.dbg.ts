import { installCleanup, killAll } from './support/processes.js';
import { openPublisher, SubscriberGroup } from './support/subscribers.js';
import { withTarget } from './support/target.js';
import { percentile } from './support/stats.js';
installCleanup();
for (const kind of ['baseline', 'auditstream'] as const) for (const rate of [500, 1000, 5000]) {
  await withTarget(kind, {}, async (target) => {
    const group = await SubscriberGroup.open(target, { subscriptions: 10, processes: 2, perChannel: 1, latency: true, warmupIndex: rate / 2 });
    const p = await openPublisher(target);
    p.send({ type: 'run', mode: 'rate', rate, durationMs: 5000, maxInFlight: 2000 });
    const r: any = await p.next('result', 60000);
    await p.stop();
    const got = await group.expectAll(r.acked, 10000, 60000);
    const s = Float64Array.from(got.latenciesUs).sort();
    console.log(kind, rate, Math.round(r.achievedRate), r.calls, 'calls', 'p50', percentile(s, 50) / 1000, 'p99', percentile(s, 99) / 1000, 'max', s[s.length - 1] / 1000);
    await group.close();
  });
}
killAll(); process.exit(0);
