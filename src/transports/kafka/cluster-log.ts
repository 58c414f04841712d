import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KafkaMessage } from 'kafkajs';
import { AuditEvent } from '../../../generated/audit/v1/event.js';
import { fromRecordEvent, toProtoEvent } from '../../contract/event-mapping.js';
import type { Config } from '../../config/schema.js';
import type { NewAuditEvent } from '../../domain/event.js';
import type { ChainVerification, HistoryPage, HistoryQuery } from '../../domain/history.js';
import type { AppendResult, Clock, EventLog, ResolvedCursor } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import { DownstreamLog } from '../../policies/downstream-log.js';
import type { CircuitName, KafkaPolicy } from '../../policies/kafka-policy.js';
import { sealEvent } from '../../store/hash-chain.js';
import { ReplicaLog } from '../../store/replica-log.js';
import { createKafkaClient, kafkaPolicy, producerConfig, sendSettings } from './client.js';
import { keyFor, type OutgoingRecord } from './records.js';
import { KafkaSender } from './sender.js';
import { prepareTopic, type TopicLayout, TopicReader } from './topic-reader.js';

/** Names the publishing node and call on each record, so the node can answer once it reads it back. */
const ORIGIN_HEADER = 'auditstream-origin';

interface Pending {
  resolve(result: AppendResult): void;
  reject(err: Error): void;
}

export interface ClusterLogOptions {
  readonly kafka: Config['kafka'];
  readonly cluster: Config['cluster'];
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Cluster mode's event log (storage.type kafka): the shared Kafka topic is the log. An append
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
    private readonly reader: TopicReader,
    private readonly sender: KafkaSender,
    private readonly policy: KafkaPolicy,
    private readonly o: ClusterLogOptions,
    /** Per partition, the newest high watermark seen: how far the topic reaches. */
    private readonly high: number[],
  ) {
    // Failing, circuit open, still failing (at most every 30 s), recovered: one line each.
    // Logs the circuit's changes (it listens on the policy): held by the policy, not by this object.
    new DownstreamLog(policy, o.logger, { downstream: 'kafka-log', label: 'Kafka (cluster log)' });
  }

  /** Connects, loads cluster.history of the topic and resolves once this node has read up to where the topic stood. */
  static async open(o: ClusterLogOptions): Promise<ClusterLog> {
    const { cluster } = o;
    const nodeId = cluster.node_id ?? hostname();
    const logger = o.logger.child({ component: 'cluster', node: nodeId });
    const kafka = createKafkaClient(o.kafka, logger, 5);
    const admin = kafka.admin();
    const layout: TopicLayout = await admin.connect()
      .then(() => prepareTopic(admin, cluster.topic, cluster.partitions, o.clock.now().getTime() - cluster.history))
      .catch((err: unknown) => {
        throw new Error(`cluster mode: cannot open topic ${cluster.topic} on ${o.kafka.brokers.join(', ')}: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => admin.disconnect());
    const policy = kafkaPolicy(o.kafka);
    const sender = new KafkaSender(kafka, producerConfig(o.kafka), { ...sendSettings(o.kafka), acks: -1 });
    const reader = new TopicReader(kafka, cluster.topic, `auditstream.${nodeId}.${randomUUID()}`, logger);
    const log = new ClusterLog(new ReplicaLog(layout.start, cluster.max_events), reader, sender, policy, { ...o, logger }, layout.high);
    const ready = new Promise<void>((resolve) => (log.caughtUp = { through: [...layout.high], resolve }));
    log.checkCaughtUp();
    await reader.start(() => log.replica.nextOffsets(), (partition, messages, high) => log.consume(partition, messages, high));
    await ready;
    logger.info({ topic: cluster.topic, partitions: layout.partitions, events: log.lastSequence() }, 'cluster log loaded');
    return log;
  }

  async append(events: readonly NewAuditEvent[]): Promise<AppendResult[]> {
    const receivedAt = this.o.clock.now();
    const results: Array<Promise<AppendResult>> = [];
    const inCall = new Map<string, Promise<AppendResult>>();
    const messages: OutgoingRecord[] = [];
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
        messages.push({
          topic: this.o.cluster.topic,
          sequence: 0,
          message: {
            key: keyFor(sealed),
            value: Buffer.from(AuditEvent.encode({ ...toProtoEvent(sealed), sequence: 0, cursor: '' }).finish()),
            timestamp: String(event.timestamp.getTime()),
            headers: { [ORIGIN_HEADER]: token },
          },
        });
      }
    }
    // Awaited at once, so a failure or the timeout rejects it while the send may still be running.
    const answered = Promise.all(results);
    if (messages.length === 0) return answered;
    // Once the caller has its answer, no further attempts: the publisher retries (safely) if it wants.
    const answeredOrTimedOut = new AbortController();
    const timer = setTimeout(() => {
      answeredOrTimedOut.abort();
      this.fail(tokens, new Error(`no acknowledgement read back from Kafka within ${this.o.cluster.publish_timeout} ms`));
    }, this.o.cluster.publish_timeout);
    void this.policy.execute((signal) => this.sender.send(messages, signal), answeredOrTimedOut.signal)
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

  /**
   * Kafka is reachable (the reader is running) and the circuit lets a send through: closed, or open but
   * due for its test send (someone has to publish for it to close again). Half-open, a test send is
   * under way and every other send waits for it: not writable.
   */
  checkWritable(): boolean {
    if (this.closed || !this.reader.healthy) return false;
    const circuit = this.policy.circuit;
    return circuit === 'closed' || (circuit === 'open' && this.policy.msUntilHalfOpen() === 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reader.stop();
    await this.sender.close();
    this.fail([...this.pending.keys()], new Error('the cluster log is closed'));
  }

  /** Stores a batch read from one partition, hands it to the dispatcher, then answers our own appends. */
  private consume(partition: number, messages: KafkaMessage[], highWatermark: number): void {
    this.high[partition] = Math.max(this.high[partition] ?? 0, highWatermark);
    const results: AppendResult[] = [];
    const answers: Array<[Pending, AppendResult]> = [];
    for (const m of messages) {
      const offset = Number(m.offset);
      let record;
      try {
        record = fromRecordEvent(AuditEvent.decode(m.value ?? new Uint8Array(0)));
      } catch (err) {
        // Not written by auditstream: nothing to store, and every node skips it alike.
        this.o.logger.error({ err, partition, offset }, 'skipped a record of the cluster topic that is not an audit event');
        this.replica.skip(partition, offset);
        continue;
      }
      const result = this.replica.add({ ...record, partition, offset });
      if (!result) continue; // read again after a consumer restart
      results.push(result);
      const origin = m.headers?.[ORIGIN_HEADER]?.toString() ?? '';
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
  status(): { name: string; circuit: CircuitName; lag: number; deadLetters: number } {
    const next = this.replica.nextOffsets();
    const lag = this.high.reduce((sum, high, p) => sum + Math.max(0, high - (next[p] ?? 0)), 0);
    return { name: 'kafka-log', circuit: this.policy.circuit, lag, deadLetters: 0 };
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
