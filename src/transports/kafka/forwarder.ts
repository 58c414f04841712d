import { spansUnder } from '../../lib/tracing.js';
import type { DeadLetterStore } from '../../domain/dead-letters.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { EventLog } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import { DownstreamLog } from '../../policies/downstream-log.js';
import { classifyKafkaError, type KafkaErrorClass } from '../../policies/kafka-errors.js';
import { type CircuitName, isCircuitError, type KafkaPolicy } from '../../policies/kafka-policy.js';
import { type RoutingOptions, toRecord } from './records.js';
import type { RecordSender } from './sender.js';

/** The forwarder's committed position: the last sequence Kafka acknowledged (or dead-lettered). */
export interface CursorStore {
  get(): number;
  set(sequence: number): void;
}

export interface ForwarderOptions {
  readonly batchSize: number;
  readonly lingerMs: number;
  /** How long to wait before trying again when retries ran out and the circuit is still closed. */
  readonly retryBackoffMs: number;
}

export interface ForwarderDeps {
  readonly log: EventLog;
  readonly cursor: CursorStore;
  readonly deadLetters: DeadLetterStore;
  readonly policy: KafkaPolicy;
  readonly sender: RecordSender;
  readonly routing: RoutingOptions;
  readonly logger: Logger;
}

/** Health and stats (the shape observability's DownstreamStatus reads). */
export interface ForwarderStatus {
  readonly name: 'kafka';
  readonly circuit: CircuitName;
  /** Last sequence acknowledged by Kafka or dead-lettered. */
  readonly cursor: number;
  /** Stored events not yet handed to Kafka: the log's last sequence minus the cursor. */
  readonly lag: number;
  /** Dead letters waiting for redrive. */
  readonly deadLetters: number;
  /** Since start: events acknowledged, events dead-lettered, failed send attempts (batches). */
  readonly delivered: number;
  readonly deadLettered: number;
  readonly failures: number;
}

/** The outcome of sending one event on its own (redrive). */
export type SingleOutcome =
  | { readonly ok: true; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly error: KafkaErrorClass; readonly circuitOpen: boolean };

/**
 * The outbox forwarder: reads the log after its committed cursor, sends a batch through the policy,
 * and moves the cursor only once Kafka acknowledged it, so a crash or an outage re-sends rather than
 * loses. One batch is in flight at a time, in sequence order: with one partition per key, each entity's
 * events reach Kafka in log order. It wakes when events are stored (`wake`), and after a failure on its
 * own timer; no polling.
 */
export class KafkaForwarder {
  private cursor: number;
  /** A batch that failed transiently: sent again exactly as it was, so the idempotent producer's
   *  sequence numbers match and the broker drops what it had already written. */
  private unacked: readonly StoredAuditEvent[] | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  /** Sends run one at a time, the pump's and redrives' alike. */
  private lane: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  private readonly counters = { delivered: 0, deadLettered: 0, failures: 0 };

  constructor(
    private readonly deps: ForwarderDeps,
    private readonly options: ForwarderOptions,
  ) {
    this.cursor = deps.cursor.get();
    // Failing, circuit open, still failing (at most every 30 s), recovered: one line each.
    // Logs the circuit's changes (it listens on the policy): held by the policy, not by this object.
    new DownstreamLog(deps.policy, deps.logger, { downstream: 'kafka', label: 'Kafka', details: () => ({ lag: this.lag() }) });
    deps.policy.onCircuitChange(() => this.notify());
  }

  /** New events were stored (or the forwarder starts): forward whatever is after the cursor. */
  wake(): void {
    // A pending retry picks new events up when it fires; waking now would defeat its backoff.
    if (this.stopped || this.retryTimer) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.again = false;
    this.pumping = this.pump()
      .catch((err: unknown) => this.deps.logger.error({ err }, 'Kafka forwarder failed'))
      .finally(() => {
        this.pumping = undefined;
        if (this.again) this.wake();
      });
  }

  status(): ForwarderStatus {
    return {
      name: 'kafka',
      circuit: this.deps.policy.circuit,
      cursor: this.cursor,
      lag: this.lag(),
      deadLetters: this.deps.deadLetters.count(),
      ...this.counters,
    };
  }

  /** Called after every change of the status (progress, failure, circuit); returns its remover. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Flushes what is stored (unless the circuit is open: Kafka is down, and the cursor keeps the place
   * for the next start), bounded by `timeoutMs`, then closes the producer.
   */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let flushed!: () => void;
    const done = new Promise<void>((resolve) => (flushed = resolve));
    const check = (): void => {
      if (this.lag() === 0 || this.deps.policy.circuit === 'open') flushed();
    };
    const remove = this.onChange(check);
    check();
    this.wake();
    await Promise.race([done, delay(deadline - Date.now())]);
    remove();
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.abort.abort();
    await Promise.race([this.pumping, delay(deadline - Date.now())]);
    await this.deps.sender.close();
  }

  /** Sends one event alone through the policy, after whatever send is in flight (redrive). */
  sendAlone(event: StoredAuditEvent): Promise<SingleOutcome> {
    return this.exclusive(async (): Promise<SingleOutcome> => {
      if (this.stopped) {
        const error = { kind: 'transient', reason: 'shutting down', message: 'the forwarder is stopping', resetProducer: false } as const;
        return { ok: false, attempts: 0, error, circuitOpen: true };
      }
      let attempts = 0;
      try {
        const record = toRecord(event, this.deps.routing);
        await this.deps.policy.execute((signal) => {
          attempts++;
          return this.deps.sender.send([record], signal);
        }, this.abort.signal);
        return { ok: true, attempts };
      } catch (err) {
        return { ok: false, attempts, error: classifyKafkaError(err), circuitOpen: isCircuitError(err) };
      }
    });
  }

  private lag(): number {
    return Math.max(0, this.deps.log.lastSequence() - this.cursor);
  }

  private async pump(): Promise<void> {
    if (this.options.lingerMs > 0 && this.lag() < this.options.batchSize) await delay(this.options.lingerMs);
    while (!this.stopped) {
      const batch = this.nextBatch();
      if (batch.length === 0) return;
      try {
        await this.exclusive(() => this.forward(batch, 0));
        this.unacked = undefined;
      } catch (err) {
        this.failed(err, batch);
        return;
      }
    }
  }

  private nextBatch(): readonly StoredAuditEvent[] {
    const oldest = this.deps.log.firstSequence();
    if (this.cursor < oldest - 1) {
      // Retention removed events before they were forwarded (Kafka was down longer than it keeps them).
      this.deps.logger.error({ from: this.cursor + 1, to: oldest - 1 }, 'events were removed by retention before reaching Kafka');
      this.unacked = undefined;
      this.advance(oldest - 1);
    }
    const pending = this.unacked?.filter((e) => e.sequence > this.cursor);
    if (pending && pending.length > 0) return pending;
    return this.deps.log.readAfter(this.cursor, this.options.batchSize);
  }

  /**
   * Sends a batch. A permanent refusal of a batch is narrowed down by sending its events one by one,
   * so only the events Kafka refuses become dead letters and the rest go on, in order. Throws (without
   * moving the cursor past what was acknowledged) when Kafka is unavailable.
   */
  private async forward(batch: readonly StoredAuditEvent[], priorAttempts: number): Promise<void> {
    let attempts = 0;
    let topic = '';
    const endSendSpans = spansUnder('auditstream.kafka.send', batch, (e) => ({ 'audit.sequence': e.sequence, 'messaging.system': 'kafka' }));
    try {
      const records = batch.map((e) => toRecord(e, this.deps.routing));
      topic = records[0]?.topic ?? '';
      await this.deps.policy.execute((signal) => {
        attempts++;
        return this.deps.sender.send(records, signal);
      }, this.abort.signal);
    } catch (err) {
      const error = classifyKafkaError(err);
      if (this.stopped || isCircuitError(err) || error.kind === 'transient') throw err;
      if (batch.length > 1) {
        this.deps.logger.warn({ reason: error.reason, events: batch.length }, 'Kafka refused a batch: sending its events one by one');
        for (const e of batch) await this.forward([e], priorAttempts + attempts);
        return;
      }
      if (batch[0]) this.deadLetter(batch[0], topic, error, priorAttempts + attempts);
      return;
    } finally {
      endSendSpans();
    }
    this.counters.delivered += batch.length;
    const last = batch.at(-1);
    if (last) this.advance(last.sequence);
  }

  private deadLetter(event: StoredAuditEvent, destination: string, error: KafkaErrorClass, attempts: number): void {
    this.deps.deadLetters.record({
      sequence: event.sequence,
      eventId: event.id,
      destination: destination || this.deps.routing.topic,
      reason: error.reason,
      message: error.message,
      attempts,
      failedAt: new Date(),
    });
    this.counters.deadLettered++;
    this.deps.logger.error({ sequence: event.sequence, eventId: event.id, reason: error.reason, attempts }, 'event moved to the Kafka dead letters');
    this.advance(event.sequence);
  }

  private failed(err: unknown, batch: readonly StoredAuditEvent[]): void {
    this.unacked = batch;
    this.counters.failures++;
    const wait = Math.max(10, this.deps.policy.msUntilHalfOpen() || this.options.retryBackoffMs);
    // The outage itself is announced (rate-limited) by the DownstreamLog: failing, open, recovered.
    const circuitOpen = isCircuitError(err);
    const details = { reason: circuitOpen ? 'circuit open' : classifyKafkaError(err).reason, lag: this.lag(), retryInMs: wait };
    this.deps.logger.debug(details, 'Kafka send failed; the batch will be sent again');
    if (!this.stopped) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.wake();
      }, wait).unref();
    }
    this.notify();
  }

  private advance(sequence: number): void {
    try {
      this.deps.cursor.set(sequence);
    } catch (err) {
      // Past the shutdown deadline the log may be closed; the next start re-sends from the old cursor.
      if (this.stopped) return;
      throw err;
    }
    this.cursor = sequence;
    this.notify();
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work, work);
    this.lane = run.catch(() => undefined);
    return run;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
