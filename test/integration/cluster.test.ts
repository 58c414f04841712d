/**
 * Cluster mode (storage.type kafka): several `auditstream serve` processes share one topic on the Kafka
 * test broker; real gRPC clients publish on some nodes and subscribe on others.
 */
import assert from '../support/assert.js';
import { randomUUID } from 'node:crypto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, test } from '@jest/globals';
import type { AuditServiceClient, VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { type ClusterNode, startNode, stopNodes } from '../support/cluster.js';
import { KafkaTestBroker } from '../support/kafka-broker/index.js';
import { api, filterOf, healthStatus, makeEvent, StreamReader, waitFor, within } from '../support/server.js';
import { toTimestamp } from '../../src/contract/time-mapping.js';

let broker: KafkaTestBroker;
let nodes: ClusterNode[] = [];
let a: ClusterNode;
let b: ClusterNode;
let c: ClusterNode;

beforeAll(async () => {
  broker = await KafkaTestBroker.start();
  nodes = await Promise.all(['a', 'b', 'c'].map((name) => startNode(broker, name)));
  [a, b, c] = nodes;
});

afterAll(async () => {
  await stopNodes(nodes);
  await broker.stop();
});

/** A live subscription to one test's events (its entity type), open once the started message came. */
async function watch(client: AuditServiceClient, entityType: string, request: { afterCursor?: string } = {}): Promise<StreamReader> {
  const reader = StreamReader.open(client, { filter: filterOf({ entityTypes: [entityType] }), ...request });
  await reader.started();
  return reader;
}

/** Event ids per entity, in the order the stream delivered them. */
function perEntity(events: readonly AuditEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) (out[e.entityId] ??= []).push(e.id);
  return out;
}

function assertNoDuplicates(events: readonly AuditEvent[], what: string): void {
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, `${what}: no event twice`);
}

/** Publishes `count` events about `entities` on one node: single Publish calls and batches of 5, in turn. */
async function publishMany(client: AuditServiceClient, entityType: string, entities: readonly string[], count: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < count) {
    const batch = Array.from({ length: ids.length % 2 === 0 ? 1 : 5 }, () => makeEvent({
      id: randomUUID(), entityType, entityId: entities[(ids.length + Math.floor(Math.random() * entities.length)) % entities.length],
    }));
    if (batch.length === 1) await api(client).publish({ event: batch[0] });
    else await api(client).publishBatch({ events: batch });
    ids.push(...batch.map((e) => e.id));
  }
  return ids;
}

test('published on node A, subscribed on B and C: the same events, none missing or twice, each entity in one order', async () => {
  const type = 'cluster-fanout';
  const [onB, onC] = await Promise.all([watch(b.client, type), watch(c.client, type)]);
  const published = await publishMany(a.client, type, ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'], 120);
  const [fromB, fromC] = await Promise.all([onB.eventsUntil(120, 15_000), onC.eventsUntil(120, 15_000)]);
  assertNoDuplicates(fromB, 'B');
  assertNoDuplicates(fromC, 'C');
  assert.deepEqual(fromB.map((e) => e.id).sort(), [...published].sort(), 'B has every published event');
  assert.deepEqual(fromC.map((e) => e.id).sort(), [...published].sort(), 'C has every published event');
  // Each entity's events arrive in publish order on both nodes.
  const publishedPerEntity = perEntity(published.map((id) => fromB.find((e) => e.id === id)!));
  assert.deepEqual(perEntity(fromB), publishedPerEntity);
  assert.deepEqual(perEntity(fromC), publishedPerEntity);
  // Both nodes chained each partition identically.
  const hashes = (events: AuditEvent[]) => Object.fromEntries(events.map((e) => [e.id, Buffer.from(e.hash).toString('hex')]));
  assert.deepEqual(hashes(fromC), hashes(fromB));
  // The shared log is a downstream in B's metrics: circuit closed, nothing left to read.
  const metrics = await (await fetch(`http://127.0.0.1:${b.process.httpPort}/metrics`)).text();
  assert.match(metrics, /^auditstream_circuit_state\{downstream="kafka-log"\} 0$/m);
  assert.match(metrics, /^auditstream_forwarder_lag_events\{downstream="kafka-log"\} 0$/m);
  onB.cancel();
  onC.cancel();
});

test('publishing on every node at once: each entity in the same order on every node', async () => {
  const type = 'cluster-concurrent';
  const readers = await Promise.all(nodes.map((n) => watch(n.client, type)));
  const entities = ['shared-1', 'shared-2', 'shared-3', 'shared-4', 'shared-5'];
  const published = (await Promise.all(nodes.map((n) => publishMany(n.client, type, entities, 60)))).flat();
  const streams = await Promise.all(readers.map((r) => r.eventsUntil(published.length, 20_000)));
  for (const [i, events] of streams.entries()) {
    assertNoDuplicates(events, nodes[i].name);
    assert.deepEqual(events.map((e) => e.id).sort(), [...published].sort(), `${nodes[i].name} has every event`);
  }
  const orderOnA = perEntity(streams[0]);
  assert.equal(Object.keys(orderOnA).length, entities.length);
  assert.deepEqual(perEntity(streams[1]), orderOnA, 'B orders each entity as A does');
  assert.deepEqual(perEntity(streams[2]), orderOnA, 'C orders each entity as A does');
  readers.forEach((r) => r.cancel());
});

test('the same event id published on two nodes is stored once, also for a node started later', async () => {
  const type = 'cluster-idempotent';
  const onC = await watch(c.client, type);
  const first = makeEvent({ id: randomUUID(), entityType: type, entityId: 'dup-1' });
  const original = await api(a.client).publish({ event: first });
  const again = await api(b.client).publish({ event: first });
  assert.equal(original.duplicate, false);
  assert.deepEqual([again.eventId, again.duplicate], [original.eventId, true]);
  // At the same moment on two nodes: one stores it, the other answers with that original.
  const racing = makeEvent({ id: randomUUID(), entityType: type, entityId: 'dup-2' });
  const answers = await Promise.all([a, b].map((n) => api(n.client).publish({ event: racing })));
  assert.deepEqual(answers.map((r) => r.duplicate).sort(), [false, true]);
  const marker = makeEvent({ id: randomUUID(), entityType: type, entityId: 'dup-3' });
  await api(a.client).publish({ event: marker });
  // Three entities, so three partitions perhaps: across partitions a node's order is its own.
  const seen = await onC.eventsUntil(3, 10_000);
  assert.deepEqual(seen.map((e) => e.id).sort(), [first.id, racing.id, marker.id].sort());
  onC.cancel();

  // A node that starts now rebuilds its state from the topic: it knows the id, and replays by time.
  const d = await startNode(broker, 'd');
  nodes.push(d);
  const late = await api(d.client).publish({ event: first });
  assert.equal(late.duplicate, true);
  const replay = StreamReader.open(d.client, { filter: filterOf({ entityTypes: [type], timeRange: { start: toTimestamp(new Date(Date.now() - 60_000)), end: undefined } }) });
  const replayed = await replay.eventsUntil(3, 10_000);
  assert.deepEqual(replayed.map((e) => e.id).sort(), [first.id, racing.id, marker.id].sort());
  replay.cancel();
  const chain = await new Promise<VerifyChainResponse>((resolve, reject) =>
    d.client.verifyChain({ fromSequence: 0, toSequence: 0 }, (err, res) => (err ? reject(err) : resolve(res))));
  assert.equal(chain.ok, true, 'every partition chain the late node rebuilt verifies');
  assert.ok(chain.checked >= 3);
});

test("a heartbeat's resume cursor resumes on another node, past the events the filter skipped", async () => {
  const type = 'cluster-heartbeat';
  const onB = await watch(b.client, type);
  await publishMany(a.client, `${type}-other`, ['o1', 'o2', 'o3'], 12);
  const seenFirst = (await api(a.client).publish({ event: makeEvent({ entityType: type }) })).eventId;
  await onB.until('the watched event', () => onB.events.find((e) => e.id === seenFirst));
  const afterFirst = onB.messages.length;
  const beat = await onB.until('a heartbeat after it', () => onB.messages.slice(afterFirst).find((m) => m.kind?.$case === 'heartbeat'));
  assert.ok(beat.kind?.$case === 'heartbeat');
  onB.cancel();
  const next = await api(a.client).publish({ event: makeEvent({ entityType: type }) });
  const onC = await watch(c.client, type, { afterCursor: beat.kind.heartbeat.resumeCursor });
  const resumed = await onC.eventsUntil(1, 10_000);
  assert.deepEqual(resumed.map((e) => e.id), [next.eventId]);
  // A marker published later arrives next: nothing between the two was left over.
  const marker = await api(a.client).publish({ event: makeEvent({ entityType: type }) });
  assert.deepEqual((await onC.eventsUntil(2, 10_000)).map((e) => e.id), [next.eventId, marker.eventId]);
  onC.cancel();
});

test('while Kafka is down Publish fails with UNAVAILABLE; afterwards publishing and delivery resume', async () => {
  const type = 'cluster-outage';
  const onB = await watch(b.client, type);
  const before = await api(a.client).publish({ event: makeEvent({ entityType: type }) });
  await broker.stop();
  const during = await api(a.client).publish({ event: makeEvent({ entityType: type }) }).then(() => undefined, (err: ServiceError) => err);
  assert.equal(during?.code, status.UNAVAILABLE, 'a publish Kafka never acknowledged is refused, not left hanging');
  const address = `127.0.0.1:${a.process.grpcPort}`;
  await waitFor('A to report NOT_SERVING', async () => (await healthStatus(address)) === 'NOT_SERVING', 30_000);
  await broker.start();
  await waitFor('A to report SERVING again', async () => (await healthStatus(address)) === 'SERVING', 30_000);
  const after = await api(a.client).publish({ event: makeEvent({ entityType: type }) });
  const received = await onB.until('the events from before and after the outage', () => {
    const ids = onB.events.map((e) => e.id);
    return ids.includes(after.eventId) ? ids : undefined;
  }, 30_000);
  assert.ok(received.includes(before.eventId));
  assertNoDuplicates(onB.events, 'B');
  onB.cancel();
});

test('a node killed mid-stream: its subscriber resumes on another node with its cursor and gets exactly what it missed', async () => {
  const type = 'cluster-failover';
  const victim = c;
  const onVictim = await watch(victim.client, type);
  // Meanwhile a client publishes through the victim: what it acknowledged must survive the kill.
  const ackedByVictim: string[] = [];
  let victimHasAcked!: () => void;
  const victimAckedSome = new Promise<void>((resolve) => (victimHasAcked = resolve));
  const victimPublisher = (async () => {
    for (;;) {
      const event = makeEvent({ id: randomUUID(), entityType: `${type}-via-victim`, entityId: 'v1' });
      try {
        await api(victim.client).publish({ event });
      } catch {
        return;
      }
      if (ackedByVictim.push(event.id) === 5) victimHasAcked();
    }
  })();
  const published: string[] = [];
  let stopAt = Infinity;
  const publisher = (async () => {
    while (published.length < stopAt) published.push(...(await publishMany(a.client, type, ['f1', 'f2', 'f3'], 6)));
  })();
  await onVictim.eventsUntil(40, 15_000);
  await within(victimAckedSome, 'the victim to acknowledge 5 publishes', 15_000);
  victim.process.child.kill('SIGKILL');
  await victim.process.exited;
  const before = [...onVictim.events];
  await onVictim.until('the stream to fail', () => onVictim.status, 10_000);
  // Keep publishing while the subscriber is away, then stop.
  stopAt = published.length + 30;
  await publisher;

  const cursor = before[before.length - 1].cursor;
  const resumed = await watch(b.client, type, { afterCursor: cursor });
  const missed = published.length - before.length;
  const after = await resumed.eventsUntil(missed, 15_000);
  assertNoDuplicates([...before, ...after], 'before and after the kill');
  assert.deepEqual([...before, ...after].map((e) => e.id).sort(), [...published].sort(), 'nothing lost, nothing repeated');
  assert.deepEqual(perEntity([...before, ...after]), perEntity(published.map((id) => [...before, ...after].find((e) => e.id === id)!)));
  resumed.cancel();

  await victimPublisher;
  assert.ok(ackedByVictim.length >= 5, 'the victim acknowledged publishes before it died');
  const replay = StreamReader.open(b.client, { filter: filterOf({ entityTypes: [`${type}-via-victim`] }), afterSequence: 0 });
  const received = await replay.until('every event the killed node acknowledged', () => {
    const ids = replay.events.map((e) => e.id);
    return ackedByVictim.every((id) => ids.includes(id)) ? ids : undefined;
  }, 15_000);
  assert.deepEqual(received.filter((id) => ackedByVictim.includes(id)), ackedByVictim, 'in the order they were acknowledged');
  replay.cancel();
});
