import os from 'node:os';
import { fanout } from './fanout.js';

/** `npm run bench`: prints each scenario's figures with the machine they were measured on. */
console.log(`auditstream bench: ${os.cpus().length} cores, Node ${process.version}`);
console.log('| scenario | published/s | delivered/s | delivered/(published x K) | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|---|');
for (const k of [1, 10, 100]) {
  const r = await fanout(k, k >= 100 ? 5_000 : 20_000);
  console.log(`| fan-out K=${k}, ${r.events} events, PublishBatch 100 | ${r.publishedPerSecond} | ${r.deliveredPerSecond} | ${r.deliveryRatio} | ${r.p50Ms} | ${r.p99Ms} |`);
}
