import { randomUUID } from 'node:crypto';
import type { NewAuditEvent } from '../domain/event.js';
import type { ChainVerification, HistoryPage, HistoryQuery } from '../domain/history.js';
import type { AppendResult, Clock, DownstreamStatus, EventLog, ResolvedCursor } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import { sealEvent } from './hash-chain.js';
import { ReplicaLog } from './replica-log.js';
import type { ReadRecord, RecordCodec, SharedTopic, TopicRecord } from './shared-topic.js';

/** Names the publishing node and call on each record, so the node can answer once it reads it back. */
const ORIGIN_HEADER = 'auditstream-origin';

interface Pending {
  resolve(result: AppendResult): void;
  reject(err: Error): void;
}

export interface ClusterLogOptions {
  /** Most events this node holds (cluster.max_events). */
  readonly maxEvents: number;
  /** Sent but not read back within this: the append fails UNAVAILABLE (cluster.publish_timeout). */
  readonly publishTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Cluster mode's event log (storage.type kafka): the shared topic (Kafka, behind the SharedTopic
 * port: transports/kafka/shared-topic.ts) is the log. An append
 * produces with acks all through the idempotent producer and resolves once this node has read the
 * records back, so the answer carries the event as every node stores it (and `duplicate` when
 * another node's copy of the id came first). Every node reads the whole topic into its replica
 * (store/replica-log.ts) and hands each event, its own included, to the dispatcher in read order.
 */
export class ClusterLog implements EventLog {
  private readonly pending = new Map<string, Pending>();
  private readonly listeners: Array<(results: readonly AppendResult[]) => void> = [];
  /** Unique per process: records from a restarted node never answer the old process's calls. */
  private readonly origin = randomUUID();
  private calls = 0;
  /** Resolves the start once this node has read up to where the topic stood then. */
  private caughtUp?: { readonly through: readonly number[]; readonly resolve: () => void } | undefined;
  private closed = false;

  private constructor(
    private readonly replica: ReplicaLog,
    private readonly topic: SharedTopic,
    private readonly codec: RecordCodec,
    private readonly o: ClusterLogOptions,
    /** Per partition, the newest high watermark seen: how far the topic reaches. */
    private readonly high: number[],
  ) {}

  /** Reads the topic's history into this node's replica; resolves once it has read up to where the topic stood. */
  static async open(topic: SharedTopic, codec: RecordCodec, o: ClusterLogOptions): Promise<ClusterLog> {
    const log = new ClusterLog(new ReplicaLog(topic.start, o.maxEvents), topic, codec, o, [...topic.high]);
    const ready = new Promise<void>((resolve) => (log.caughtUp = { through: [...topic.high], resolve }));
    log.checkCaughtUp();
    await topic.read(() => log.replica.nextOffsets(), (partition, records, high) => log.consume(partition, records, high));
    await ready;
    o.logger.info({ partitions: topic.start.length, events: log.lastSequence() }, 'cluster log loaded');
    return log;
  }

  async append(events: readonly NewAuditEvent[]): Promise<AppendResult[]> {
    const receivedAt = this.o.clock.now();
    const results: Array<Promise<AppendResult>> = [];
    const inCall = new Map<string, Promise<AppendResult>>();
    const messages: TopicRecord[] = [];
    const tokens: string[] = [];
    for (const event of events) {
      const held = this.replica.byId(event.id);
      const earlier = inCall.get(event.id);
      if (held) results.push(Promise.resolve({ event: held, duplicate: true }));
      else if (earlier) results.push(earlier.then((r) => ({ event: r.event, duplicate: true })));
      else {
        const token = `${this.origin}:${++this.calls}`;
        const answer = new Promise<AppendResult>((resolve, reject) => this.pending.set(token, { resolve, reject }));
        tokens.push(token);
        inCall.set(event.id, answer);
        results.push(answer);
        // Not yet in the chain (each node seals it as it reads it), but its salts are drawn here once.
        const sealed = { ...sealEvent(event, 0, receivedAt, new Uint8Array(0)), hash: new Uint8Array(0) };
        messages.push({ ...this.codec.encode(sealed), timestamp: event.timestamp.getTime(), headers: { [ORIGIN_HEADER]: token } });
      }
    }
    // Awaited at once, so a failure or the timeout rejects it while the send may still be running.
    const answered = Promise.all(results);
    if (messages.length === 0) return answered;
    // Once the caller has its answer, no further attempts: the publisher retries (safely) if it wants.
    const answeredOrTimedOut = new AbortController();
    const timer = setTimeout(() => {
      answeredOrTimedOut.abort();
      this.fail(tokens, new Error(`no acknowledgement read back from Kafka within ${this.o.publishTimeoutMs} ms`));
    }, this.o.publishTimeoutMs);
    void this.topic.send(messages, answeredOrTimedOut.signal)
      .catch((err: unknown) => this.fail(tokens, err instanceof Error ? err : new Error(String(err))));
    try {
      return await answered;
    } finally {
      clearTimeout(timer);
      answeredOrTimedOut.abort();
    }
  }

  follow(listener: (results: readonly AppendResult[]) => void): void {
    this.listeners.push(listener);
  }

  cursorAt(sequence: number): string {
    return this.replica.cursorAt(sequence);
  }

  resolveCursor(token: string, field: string): ResolvedCursor {
    return this.replica.resolveCursor(token, field);
  }

  readAfter(afterSequence: number, limit: number) {
    return this.replica.readAfter(afterSequence, limit);
  }

  firstSequence(): number {
    return this.replica.firstSequence();
  }

  lastSequence(): number {
    return this.replica.lastSequence();
  }

  sequenceBefore(time: Date): number {
    return this.replica.sequenceBefore(time);
  }

  query(q: HistoryQuery): HistoryPage {
    return this.replica.query(q);
  }

  verifyChain(fromSequence?: number, toSequence?: number): ChainVerification {
    return this.replica.verifyChain(fromSequence, toSequence);
  }

  /** The topic can take a send now (see SharedTopic.writable). */
  checkWritable(): boolean {
    return !this.closed && this.topic.writable();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.topic.close();
    this.fail([...this.pending.keys()], new Error('the cluster log is closed'));
  }

  /** Stores a batch read from one partition, hands it to the dispatcher, then answers our own appends. */
  private consume(partition: number, messages: readonly ReadRecord[], highWatermark: number): void {
    this.high[partition] = Math.max(this.high[partition] ?? 0, highWatermark);
    const results: AppendResult[] = [];
    const answers: Array<[Pending, AppendResult]> = [];
    for (const m of messages) {
      const offset = m.offset;
      let record;
      try {
        record = this.codec.decode(m.value ?? new Uint8Array(0));
      } catch (err) {
        // Not written by auditstream: nothing to store, and every node skips it alike.
        this.o.logger.error({ err, partition, offset }, 'skipped a record of the cluster topic that is not an audit event');
        this.replica.skip(partition, offset);
        continue;
      }
      const result = this.replica.add({ ...record, partition, offset });
      if (!result) continue; // read again after a consumer restart
      results.push(result);
      const origin = m.header(ORIGIN_HEADER) ?? '';
      const waiting = this.pending.get(origin);
      if (waiting) {
        this.pending.delete(origin);
        answers.push([waiting, result]);
      }
    }
    if (results.length > 0) for (const listener of this.listeners) listener(results);
    for (const [waiting, result] of answers) waiting.resolve(result);
    this.checkCaughtUp();
  }

  /** For metrics and readiness, as a downstream: its circuit, and the records this node has not read yet. */
  status(): DownstreamStatus {
    const next = this.replica.nextOffsets();
    const lag = this.high.reduce((sum, high, p) => sum + Math.max(0, high - (next[p] ?? 0)), 0);
    return { name: 'kafka-log', circuit: this.topic.circuit, lag, deadLetters: 0 };
  }

  private checkCaughtUp(): void {
    if (!this.caughtUp) return;
    const next = this.replica.nextOffsets();
    if (this.caughtUp.through.every((high, p) => (next[p] ?? 0) >= high)) {
      this.caughtUp.resolve();
      this.caughtUp = undefined;
    }
  }

  private fail(tokens: readonly string[], err: Error): void {
    for (const token of tokens) {
      this.pending.get(token)?.reject(err);
      this.pending.delete(token);
    }
  }
}
