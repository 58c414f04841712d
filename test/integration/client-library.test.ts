/**
 * The client library (`auditstream/client`) against real servers: a server process killed and
 * restarted under a subscriber, a cluster node stopped under one, a rate-limited batching publisher,
 * abort, break and a bad filter; and against fake servers that misbehave on purpose (re-sending
 * events after a resume, going silent) to hold the library's own guarantees to account.
 */
import assert from '../support/assert.js';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from '@jest/globals';
import { Server, ServerCredentials, type ServerWritableStream, status } from '@grpc/grpc-js';
import {
  AuditServiceService, type AuditServiceServer, type GetStatsResponse, type ListSubscriptionsResponse, type SubscribeRequest, type SubscribeResponse,
} from '../../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType } from '../../generated/audit/v1/event.js';
import { AuditStreamError, createClient, type AuditStreamClient, type PublishResponse, type RetryInfo } from '../../src/client/index.js';
import { startNode, stopNodes } from '../support/cluster.js';
import { KafkaTestBroker } from '../support/kafka-broker/index.js';
import { token, SECRET } from '../support/security.js';
import { startServerProcess } from '../support/server-process.js';
import { startServer, waitFor, within } from '../support/server.js';

/**
 * Iterates a subscription in the background, collecting its events, with bounded waits on them.
 * `holdAfter`: after that many events the application stops taking more until `release()`.
 */
class Collector {
  readonly events: AuditEvent[] = [];
  /** Resolves when the iteration ends: 'ended', or what it threw. */
  readonly done: Promise<unknown>;
  private waiters = new Set<() => void>();
  readonly release: () => void;

  constructor(subscription: AsyncIterable<AuditEvent>, options: { stopWhen?: (events: AuditEvent[]) => boolean; holdAfter?: number } = {}) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.release = release;
    this.done = (async () => {
      try {
        for await (const event of subscription) {
          this.events.push(event);
          this.notify();
          if (options.stopWhen?.(this.events)) break;
          if (this.events.length === options.holdAfter) await released;
        }
        return 'ended';
      } catch (err) {
        return err;
      } finally {
        this.notify();
      }
    })();
  }

  /** Resolves once `check` holds (checked as events arrive), failing after `ms`. */
  until(what: string, check: (events: AuditEvent[]) => boolean, ms = 10_000): Promise<void> {
    return within(new Promise<void>((resolve) => {
      const test = (): void => {
        if (!check(this.events)) return;
        this.waiters.delete(test);
        resolve();
      };
      this.waiters.add(test);
      test();
    }), `${what} (have ${this.events.length} events)`, ms);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

const event = (entityType: string, entityId: string, fields: Partial<AuditEvent> = {}): Partial<AuditEvent> => ({
  id: randomUUID(), type: EventType.EVENT_TYPE_CALL_CREATED, action: 'create', entityType, entityId, userId: 'u-1', ...fields,
});

/** Publishes through `client` with `workers` concurrent loops until `stop()`; every acknowledgement is kept. */
function keepPublishing(client: AuditStreamClient, entityType: string, workers = 2) {
  const acked: PublishResponse[] = [];
  let stopped = false;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (!stopped) acked.push(await client.publish(event(entityType, `e-${w}-${acked.length % 3}`)));
  });
  return { acked, stop: async () => { stopped = true; await Promise.all(loops); } };
}

const ids = (events: readonly { id?: string; eventId?: string }[]): string[] => events.map((e) => e.id ?? e.eventId ?? '');

/** `auditstream serve` as a process on a given gRPC port and database (the support helper always asks for port 0). */
async function serveOn(port: number, db: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-client-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, `server:\n  host: 127.0.0.1\n  grpc_port: ${port}\n  http_port: 0\nstorage:\n  path: ${db}\nlogging:\n  level: info\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await within(new Promise<void>((resolve, reject) => {
    void exited.then((code) => reject(new Error(`the restarted server exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if ((JSON.parse(line) as { grpcPort?: number }).grpcPort === port) resolve();
    });
  }), 'the restarted server to serve', 30_000);
  return { stop: () => (child.kill('SIGTERM'), exited) };
}

test('a subscriber gets every acknowledged event once, in order, while the server is SIGKILLed and restarted on the same database and port', async () => {
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-client-')), 'audit.db');
  const first = await startServerProcess('logging:\n  level: info\n', db);
  const address = `127.0.0.1:${first.grpcPort}`;
  const reader = createClient({ address });
  const writer = createClient({ address, retry: { maxAttempts: Infinity, initialDelayMs: 50, maxDelayMs: 250 } });
  let restarted: Awaited<ReturnType<typeof serveOn>> | undefined;
  const reconnects: RetryInfo[] = [];
  try {
    const type = `crash-${randomUUID()}`;
    const subscription = reader.subscribe({ entityTypes: [type] }, {
      afterSequence: 0, reconnect: { initialDelayMs: 50, maxDelayMs: 250 }, onReconnect: (info) => reconnects.push(info),
    });
    // The application stops taking events after 30 while publishing goes on, so that when it takes
    // them again the stream has died under read-ahead it never took, and the restarted server has
    // stored events since: the library must resume from what the application took, not from now.
    const received = new Collector(subscription, { holdAfter: 30 });
    const publishing = keepPublishing(writer, type);
    await received.until('events before the kill', (events) => events.length === 30);
    await waitFor('more publishes while the application holds', () => publishing.acked.length >= 60);
    first.child.kill('SIGKILL');
    await first.exited;
    const ackedBeforeRestart = publishing.acked.length;
    const newestBeforeRestart = Math.max(...publishing.acked.map((a) => a.sequence));
    restarted = await serveOn(first.grpcPort, db);
    await waitFor('publishes acknowledged by the restarted server', () => publishing.acked.length >= ackedBeforeRestart + 30, 30_000);
    received.release();
    await publishing.stop();
    const last = await writer.publish(event(type, 'sentinel'));
    await received.until('the sentinel published last', (events) => events.at(-1)?.id === last.eventId, 30_000);

    const acked = [...publishing.acked, last].sort((x, y) => x.sequence - y.sequence);
    assert.ok(reconnects.length > 0, 'the subscriber lost its stream and reconnected');
    assert.ok(acked.some((a) => a.sequence > newestBeforeRestart), 'events were stored after the restart');
    assert.equal(new Set(ids(received.events)).size, received.events.length, 'no event twice');
    assert.deepEqual(ids(received.events), ids(acked), 'every acknowledged event, in sequence order, nothing else');
    assert.deepEqual(received.events.map((e) => e.sequence), acked.map((a) => a.sequence));
  } finally {
    reader.close();
    writer.close();
    await restarted?.stop();
    if (first.child.exitCode === null && first.child.signalCode === null) await first.stop();
  }
});

test('cluster: the node a subscriber reads from is stopped; it moves to another node and goes on with no gap and no duplicate', async () => {
  const broker = await KafkaTestBroker.start();
  const nodes = await Promise.all([startNode(broker, 'a'), startNode(broker, 'b')]);
  const [a, b] = [`127.0.0.1:${nodes[0].process.grpcPort}`, `127.0.0.1:${nodes[1].process.grpcPort}`];
  const reader = createClient({ address: [a, b] });
  const writer = createClient({ address: b });
  try {
    const type = `cluster-${randomUUID()}`;
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const subscription = reader.subscribe({ entityTypes: [type] }, { reconnect: { initialDelayMs: 50, maxDelayMs: 250 }, onStarted: () => started() });
    const received = new Collector(subscription);
    await within(isStarted, 'the subscription to start');
    assert.equal(subscription.address, a, 'the client reads from the first address');
    const publishing = keepPublishing(writer, type);
    await received.until('events through node a', (events) => events.length >= 30, 20_000);
    await nodes[0].process.stop();
    const ackedAtStop = publishing.acked.length;
    await waitFor('publishes after node a stopped', () => publishing.acked.length >= ackedAtStop + 30, 20_000);
    await publishing.stop();
    const last = await writer.publish(event(type, 'sentinel'));
    await received.until('the sentinel published last', (events) => events.some((e) => e.id === last.eventId), 20_000);

    assert.equal(subscription.address, b, 'the client moved to node b');
    assert.equal(new Set(ids(received.events)).size, received.events.length, 'no event twice');
    const acked = [...publishing.acked, last];
    assert.deepEqual(ids(received.events).sort(), ids(acked).sort(), 'every acknowledged event, nothing else');
    // One entity's events are in the same order on every node: its partition's order, which b's sequences follow.
    const perEntity = (list: readonly AuditEvent[]) => {
      const out: Record<string, string[]> = {};
      for (const e of list) (out[e.entityId] ??= []).push(e.id);
      return out;
    };
    const byId = new Map(received.events.map((e) => [e.id, e]));
    const expected = acked.sort((x, y) => x.sequence - y.sequence).map((ack) => byId.get(ack.eventId)!);
    assert.deepEqual(perEntity(received.events), perEntity(expected), 'each entity in its order');
  } finally {
    reader.close();
    writer.close();
    await stopNodes(nodes);
    await broker.stop();
  }
});

test('the batching publisher: concurrent events in order with their own acks; a rate limit is waited out and retried; each event stored once', async () => {
  const server = await startServer({ security: { enabled: true, jwt: { secret: SECRET }, rate_limits: { publish_per_second: 200, publish_burst: 20 } } });
  const admin = await token('root', ['admin']);
  const client = createClient({ address: server.address, token: () => admin });
  try {
    const retries: RetryInfo[] = [];
    const publisher = client.batchingPublisher({ maxBatch: 10, lingerMs: 5, onRetry: (info) => retries.push(info) });
    const events = Array.from({ length: 120 }, (_, i) => event('batching', `b-${i % 7}`, { action: i === 57 ? '' : 'create' }));
    const outcomes = await Promise.allSettled(events.map((e) => publisher.publish(e)));
    await publisher.close();

    const refused = outcomes[57];
    assert.ok(refused?.status === 'rejected' && refused.reason instanceof AuditStreamError, 'the invalid event is refused on its own');
    assert.deepEqual([refused.reason.code, refused.reason.field, refused.reason.details], [status.INVALID_ARGUMENT, 'event.action', 'event.action: is required']);
    const acks = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
    assert.equal(acks.length, 119, outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason)).join('; '));
    assert.deepEqual(acks.map((a) => a.eventId), ids(events.filter((_, i) => i !== 57)), 'each promise has its own event\'s ack');
    assert.deepEqual(acks.map((a) => a.sequence), Array.from({ length: 119 }, (_, i) => i + 1), 'stored in the order published');
    assert.ok(acks.every((a) => !a.duplicate));
    const limited = retries.filter((r) => r.error instanceof AuditStreamError && r.error.code === status.RESOURCE_EXHAUSTED);
    assert.ok(limited.length > 0, 'the rate limit refused some batches');
    for (const r of limited) assert.equal(r.delayMs, (r.error as AuditStreamError).retryAfterMs, 'waited what the server asked');

    const stats = await new Promise<GetStatsResponse>((resolve, reject) => client.raw().getStats({}, (e, r) => (e ? reject(e) : resolve(r))));
    assert.deepEqual([stats.lastSequence, stats.duplicates], [119, 0], 'each event stored once');
    const stored = new Collector(client.subscribe({ entityTypes: ['batching'] }, { afterSequence: 0 }), { stopWhen: (list) => list.length === 119 });
    assert.equal(await within(stored.done, 'the replay'), 'ended');
    assert.deepEqual(ids(stored.events), acks.map((a) => a.eventId));
  } finally {
    client.close();
    await server.close();
  }
});

test('abort and break end a subscription promptly and release it on the server; a bad filter throws INVALID_ARGUMENT without retrying', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  const client = createClient({ address: server.address });
  const open = async () => (await new Promise<ListSubscriptionsResponse>((resolve, reject) => client.raw().listSubscriptions({}, (e, r) => (e ? reject(e) : resolve(r))))).subscriptions.length;
  try {
    const controller = new AbortController();
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const aborted = new Collector(client.subscribe({}, { signal: controller.signal, onStarted: () => started() }));
    await within(isStarted, 'the subscription to start');
    assert.equal(await open(), 1);
    controller.abort();
    const reason = await within(aborted.done, 'the iteration to end after abort', 1_000);
    assert.equal((reason as Error).name, 'AbortError');
    await waitFor('the server to release the aborted subscription', async () => (await open()) === 0);

    const broken = new Collector(client.subscribe({}, {}), { stopWhen: () => true });
    await waitFor('the second subscription to start', async () => (await open()) === 1);
    await client.publish(event('abort', 'x'));
    assert.equal(await within(broken.done, 'break after the first event'), 'ended');
    await waitFor('the server to release the subscription left by break', async () => (await open()) === 0);

    const reconnects: RetryInfo[] = [];
    const badFilter = new Collector(client.subscribe({ expression: 'event.' }, { onReconnect: (info) => reconnects.push(info) }));
    const err = await within(badFilter.done, 'the bad filter to be refused');
    assert.ok(err instanceof AuditStreamError, String(err));
    assert.deepEqual([err.code, err.field], [status.INVALID_ARGUMENT, 'filter.expression']);
    assert.deepEqual(reconnects, [], 'not retried');
  } finally {
    client.close();
    await server.close();
  }
});

test('abort during a reconnect backoff ends the iteration at once, not after the backoff', async () => {
  const client = createClient({ address: '127.0.0.1:1' });
  const controller = new AbortController();
  const reconnects: RetryInfo[] = [];
  const waiting = new Collector(client.subscribe({}, {
    signal: controller.signal, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, onReconnect: (info) => reconnects.push(info),
  }));
  await waitFor('the first reconnect to be scheduled', () => reconnects.length === 1);
  const delayMs = reconnects[0]?.delayMs ?? 0;
  assert.ok(delayMs >= 1_000, `a backoff longer than the wait below (${delayMs} ms)`);
  const abortedAt = Date.now();
  controller.abort();
  assert.equal(((await within(waiting.done, 'the iteration to end', 1_000)) as Error).name, 'AbortError');
  assert.ok(Date.now() - abortedAt < 1_000);
  client.close();
});

/** A gRPC server with these handlers (the other RPCs unimplemented): a server that misbehaves on purpose. */
async function fakeServer(handlers: Partial<AuditServiceServer> | AuditServiceServer['subscribe']) {
  const server = new Server();
  server.addService(AuditServiceService, (typeof handlers === 'function' ? { subscribe: handlers } : handlers) as AuditServiceServer);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

const fakeEvent = (n: number, sequence: number, cursor: string): AuditEvent =>
  AuditEvent.fromPartial({ id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, sequence, cursor, type: EventType.EVENT_TYPE_CALL_CREATED, action: 'create' });
const started = (cursor: number, resumeCursor: string): SubscribeResponse => ({ kind: { $case: 'started', started: { subscriptionId: randomUUID(), cursor, resumeCursor } } });
const batch = (events: AuditEvent[]): SubscribeResponse => ({ kind: { $case: 'events', events: { events } } });
const lost = (call: ServerWritableStream<SubscribeRequest, SubscribeResponse>) => call.emit('error', { code: status.UNAVAILABLE, details: 'going away' });

test('a single node that sends events again after a resume: each reaches the application once', async () => {
  // Events 1..6; every stream re-sends the two events at and before its cursor, sends two more, and drops until the last.
  const requests: string[] = [];
  const fake = await fakeServer((call) => {
    requests.push(call.request.afterCursor);
    const from = Number(call.request.afterCursor || 0);
    call.write(started(from, String(from)));
    const last = Math.min(6, from + 2);
    call.write(batch(Array.from({ length: last - Math.max(1, from - 1) + 1 }, (_, i) => Math.max(1, from - 1) + i).map((n) => fakeEvent(n, n, String(n)))));
    if (last < 6) lost(call);
    else call.end();
  });
  const client = createClient({ address: fake.address });
  try {
    // No id window: the sequences alone must tell what the application already has.
    const received = new Collector(client.subscribe({}, { dedupeWindow: 0, reconnect: { initialDelayMs: 5, maxDelayMs: 20 } }));
    assert.equal(await within(received.done, 'the stream to end'), 'ended');
    assert.deepEqual(received.events.map((e) => e.sequence), [1, 2, 3, 4, 5, 6]);
    assert.ok(requests.length >= 3 && requests.slice(1).every((c) => c !== ''), `resumed with cursors: ${requests.join(', ')}`);
  } finally {
    client.close();
    fake.close();
  }
});

test('cluster numbering: on the next node lower sequences are new events (not dropped), and one sent again is dropped by id', async () => {
  // Node a numbers the partition's events 101.., node b 7..; both give the same tokens p0.<offset>.
  const a = await fakeServer((call) => {
    call.write(started(100, 'p0.0'));
    call.write(batch([1, 2, 3].map((n) => fakeEvent(n, 100 + n, `p0.${n}`))));
    lost(call);
  });
  const b = await fakeServer((call) => {
    const from = Number(/^p0\.(\d+)$/.exec(call.request.afterCursor)?.[1]);
    call.write(started(6 + from, call.request.afterCursor));
    call.write(batch([from, from + 1, 4, 5].filter((n, i, all) => n >= 1 && all.indexOf(n) === i).map((n) => fakeEvent(n, 6 + n, `p0.${n}`))));
    call.end();
  });
  const client = createClient({ address: [a.address, b.address] });
  try {
    const subscription = client.subscribe({}, { reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    const received = new Collector(subscription);
    assert.equal(await within(received.done, 'the stream to end'), 'ended');
    assert.deepEqual(received.events.map((e) => e.cursor), ['p0.1', 'p0.2', 'p0.3', 'p0.4', 'p0.5']);
    assert.deepEqual([subscription.address, subscription.resumeCursor], [b.address, 'p0.5']);
  } finally {
    client.close();
    a.close();
    b.close();
  }
});

test('a stream that goes silent (no heartbeat) is taken as lost after idleTimeoutMs and resumed', async () => {
  let calls = 0;
  let silentCancelled = false;
  const fake = await fakeServer((call) => {
    if (++calls === 1) {
      call.write(started(0, '0'));
      call.on('cancelled', () => (silentCancelled = true));
      return; // and then nothing
    }
    call.write(started(0, call.request.afterCursor));
    call.write(batch([fakeEvent(1, 1, '1')]));
    call.end();
  });
  const client = createClient({ address: fake.address });
  try {
    const reconnects: RetryInfo[] = [];
    const received = new Collector(client.subscribe({}, { idleTimeoutMs: 300, reconnect: { initialDelayMs: 5, maxDelayMs: 20 }, onReconnect: (i) => reconnects.push(i) }));
    assert.equal(await within(received.done, 'the stream to end'), 'ended');
    assert.deepEqual(received.events.map((e) => e.sequence), [1]);
    assert.match(String((reconnects[0]?.error as Error | undefined)?.message), /UNAVAILABLE: no message from the server for 300 ms/);
    await waitFor('the silent call to be cancelled', () => silentCancelled);
  } finally {
    client.close();
    fake.close();
  }
});

test('a batch answered in parts: only the events refused for now are sent again; those stored keep their acks when a later attempt fails', async () => {
  const requests: string[][] = [];
  const fake = await fakeServer({
    publishBatch(call, callback) {
      requests.push(call.request.events.map((e) => e.id));
      if (requests.length > 1) return callback({ code: status.PERMISSION_DENIED, details: 'not any more' });
      callback(null, {
        acceptedCount: 2, rejectedCount: 1,
        results: call.request.events.map((e, i) => ({
          eventId: e.id,
          outcome: i === 1
            ? { $case: 'error', error: { code: 'RESOURCE_EXHAUSTED', message: 'the regular lane is full', field: '' } }
            : { $case: 'stored', stored: { eventId: e.id, sequence: i + 1, duplicate: false, cursor: String(i + 1) } },
        })),
      });
    },
  });
  const client = createClient({ address: fake.address });
  try {
    const publisher = client.batchingPublisher({ maxBatch: 3, retry: { initialDelayMs: 5, maxDelayMs: 20 } });
    const events = [0, 1, 2].map((i) => event('parts', `p-${i}`));
    const outcomes = await Promise.allSettled(events.map((e) => publisher.publish(e)));
    assert.deepEqual(requests, [ids(events), ids(events.slice(1, 2))], 'the second attempt carries only the refused event');
    assert.deepEqual(outcomes.map((o) => (o.status === 'fulfilled' ? o.value.sequence : (o.reason as AuditStreamError).codeName)), [1, 'PERMISSION_DENIED', 3]);
  } finally {
    client.close();
    fake.close();
  }
});
