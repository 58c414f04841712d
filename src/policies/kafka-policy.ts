import {
  BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, handleWhen,
  IsolatedCircuitError, retry, TaskCancelledError, wrap,
} from 'cockatiel';
import { classifyKafkaError, type KafkaErrorClass, KafkaSendTimeoutError } from './kafka-errors.js';

export interface KafkaPolicyOptions {
  /** Retries after the first attempt (kafka.max_retries). */
  readonly maxRetries: number;
  /** The first retry's delay (kafka.retry_delay); later ones grow exponentially. */
  readonly retryDelayMs: number;
  /** The longest delay between two attempts (kafka.retry_backoff). */
  readonly retryBackoffMs: number;
  /** Consecutive transient failures that open the circuit (kafka.circuit_breaker.threshold). */
  readonly breakerThreshold: number;
  /** How long an open circuit fails fast before letting one test call through (half_open_after). */
  readonly halfOpenAfterMs: number;
  /**
   * The longest one attempt may take (kafka.send_timeout); then it fails with a KafkaSendTimeoutError,
   * which is retried and counted by the breaker. Absent: attempts are bounded by kafkajs alone.
   */
  readonly attemptTimeoutMs?: number | undefined;
}

/** What one attempt that went through the breaker came to, for logging (see downstream-log.ts). */
export type AttemptOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: KafkaErrorClass };

export type CircuitName = 'closed' | 'open' | 'half-open' | 'isolated';

const CIRCUIT_NAMES: Record<CircuitState, CircuitName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/**
 * The one resilience policy of the Kafka downstream, created once per forwarder: retry with
 * exponential backoff wrapping a circuit breaker, so every attempt goes through the breaker and an
 * open circuit ends the retries at once (fail fast) instead of waiting out the backoff.
 *
 * - Retried: transient and fatal errors (see kafka-errors.ts). Rejected records are not retried.
 * - Counted by the breaker: transient errors only. A rejected or fatal error is Kafka answering, which
 *   says nothing about its availability.
 * - Bounded: an attempt that has no answer within `attemptTimeoutMs` fails with a KafkaSendTimeoutError
 *   (transient: counted and retried). A broker that stops answering with its sockets open produces no
 *   error of its own for a long time: kafkajs's request timeout is per request, the idempotent
 *   producer's own retry doubles it, and a send queued behind another one (kafkajs's per-broker lock,
 *   its pending request queue) is not under any timeout at all. The attempt's signal is aborted at the
 *   deadline so the attempt can tell it was given up (kafkajs itself cannot be cancelled).
 */
export class KafkaPolicy {
  private readonly breaker;
  private readonly policy;
  private readonly listeners = new Set<(state: CircuitName) => void>();
  private readonly outcomeListeners = new Set<(outcome: AttemptOutcome) => void>();
  /** When the circuit last opened, to know how long it still fails fast. */
  private openedAt = 0;

  constructor(readonly options: KafkaPolicyOptions) {
    this.breaker = circuitBreaker(handleWhen((err) => classifyKafkaError(err).kind === 'transient'), {
      halfOpenAfter: options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breakerThreshold),
    });
    const retrying = retry(handleWhen((err) => !isCircuitError(err) && classifyKafkaError(err).kind !== 'rejected'), {
      maxAttempts: options.maxRetries,
      backoff: new ExponentialBackoff({ initialDelay: options.retryDelayMs, maxDelay: options.retryBackoffMs }),
    });
    this.policy = wrap(retrying, this.breaker);
    this.breaker.onStateChange((state) => {
      if (state === CircuitState.Open) this.openedAt = Date.now();
      for (const listener of this.listeners) listener(CIRCUIT_NAMES[state]);
    });
    this.breaker.onSuccess(() => this.emitOutcome({ ok: true }));
    this.breaker.onFailure(({ reason }) => {
      if ('error' in reason) this.emitOutcome({ ok: false, error: classifyKafkaError(reason.error) });
    });
  }

  /**
   * Runs `attempt` (called once per try, with a signal aborted when that try is given up) under the
   * policy. Throws the last error when retries are exhausted, at once for a rejected record, or a
   * BrokenCircuitError when the circuit is open.
   */
  execute<T>(attempt: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.policy.execute(({ signal: inner }) => this.bounded(attempt, inner), signal);
  }

  get circuit(): CircuitName {
    return CIRCUIT_NAMES[this.breaker.state];
  }

  /** Milliseconds until an open circuit lets a test call through; 0 when it is not open. */
  msUntilHalfOpen(): number {
    if (this.breaker.state !== CircuitState.Open) return 0;
    return Math.max(0, this.openedAt + this.options.halfOpenAfterMs - Date.now());
  }

  /** Called on every circuit state change; returns a function that removes the listener. */
  onCircuitChange(listener: (state: CircuitName) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after every attempt that went through the breaker (not for calls an open circuit refused). */
  onOutcome(listener: (outcome: AttemptOutcome) => void): () => void {
    this.outcomeListeners.add(listener);
    return () => this.outcomeListeners.delete(listener);
  }

  /** One attempt, failed with a KafkaSendTimeoutError once attemptTimeoutMs has passed. */
  private bounded<T>(attempt: (signal: AbortSignal) => Promise<T>, outer: AbortSignal): Promise<T> {
    const ms = this.options.attemptTimeoutMs;
    const given = new AbortController();
    const giveUp = (): void => given.abort();
    outer.addEventListener('abort', giveUp, { once: true });
    let timer: NodeJS.Timeout | undefined;
    return new Promise<T>((resolve, reject) => {
      if (ms !== undefined) {
        timer = setTimeout(() => {
          giveUp();
          reject(new KafkaSendTimeoutError(ms));
        }, ms);
      }
      // The attempt goes on after a timeout (kafkajs cannot be cancelled); its signal says it was given up.
      new Promise<T>((run) => run(attempt(given.signal))).then(resolve, reject);
    }).finally(() => {
      clearTimeout(timer);
      outer.removeEventListener('abort', giveUp);
    });
  }

  private emitOutcome(outcome: AttemptOutcome): void {
    for (const listener of this.outcomeListeners) listener(outcome);
  }
}

/** The circuit refused the call (open or isolated) or the call was cancelled: nothing reached Kafka. */
export function isCircuitError(err: unknown): boolean {
  return err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError || err instanceof TaskCancelledError;
}
