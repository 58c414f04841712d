import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { queryHistory } from '../../src/dispatch/history.js';
import { pumpSubscription } from '../../src/dispatch/pump.js';
import { isAppError } from '../../src/domain/errors.js';
import { MATCH_ALL } from '../../src/domain/filter.js';
import { CpuBudget } from '../../src/filtering/cpu-budget.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { newEvent } from '../support/events.js';

const clock = { now: () => new Date() };

/** A budget no evaluation fits in: the first one exhausts it. */
const NONE = { cpuMsPerSecond: 1e-9, cpuBurstMs: 0 };

test('the CPU budget allows its rate, absorbs a burst, and is exhausted by steady overspending', () => {
  const budget = new CpuBudget({ cpuMsPerSecond: 50, cpuBurstMs: 500 }, 0);
  let now = 0;
  for (let second = 0; second < 100; second++) assert.equal(budget.charge(50, (now += 1000)), false, 'at the rate, never');
  assert.equal(budget.charge(540, (now += 1000)), false, 'a burst within 500 ms above the rate');
  assert.equal(budget.charge(70, (now += 1000)), true, 'more on top of a spent burst');
  const steady = new CpuBudget({ cpuMsPerSecond: 50, cpuBurstMs: 500 }, 0);
  let seconds = 0;
  while (!steady.charge(100, (seconds += 1) * 1000));
  assert.equal(seconds, 11, 'twice the rate exhausts 500 ms of burst after 10 s');
});

test('a subscription whose expression exceeds its budget ends RESOURCE_EXHAUSTED, is counted, and others go on', async () => {
  const log = new MemoryEventLog(1000, clock);
  const d = new Dispatcher(log, {
    maxQueueDepth: 100, criticalQueueDepth: 10, backpressureDelayMs: 10, appendBatchSize: 64,
    subscriberQueueSize: 8, maxSubscriptions: 10, maxExpressionLength: 1000, filterBudget: NONE,
  }, clock);
  const costly = d.subscribe({ filter: { ...MATCH_ALL, expression: 'event.metadata.n > 0' }, clientName: 't', transport: 'test' });
  const plain = d.subscribe({ filter: MATCH_ALL, clientName: 't', transport: 'test' });
  await d.publish(newEvent());
  const sink = { sendEvents: () => true, sendGap: () => true, sendHeartbeat: () => true, drained: async () => {}, closed: false };
  const ended = await pumpSubscription(costly, sink, { batchSize: 10, heartbeatIntervalMs: 60_000, now: () => new Date() }).catch((e: unknown) => e);
  assert.ok(isAppError(ended) && ended.code === 'RESOURCE_EXHAUSTED', String(ended));
  assert.match((ended as Error).message, /filter.expression: kept using more CPU than its budget/);
  assert.equal(d.counters.filterBudgetExceeded, 1);
  assert.deepEqual(plain.take(10)?.events.map((e) => e.sequence), [1]);
});

test('a Query whose expression exceeds its budget fails RESOURCE_EXHAUSTED instead of scanning on', async () => {
  const log = new MemoryEventLog(1000, clock);
  await log.append([newEvent(), newEvent()]);
  assert.throws(
    () => queryHistory(log, { filter: { ...MATCH_ALL, expression: 'event.metadata.n > 100' }, order: 'asc', limit: 10, pageToken: '', maxExpressionLength: 1000, filterBudget: NONE }),
    (err: unknown) => isAppError(err) && err.code === 'RESOURCE_EXHAUSTED',
  );
});
