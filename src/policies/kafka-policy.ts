import {
  BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, handleWhen,
  IsolatedCircuitError, retry, TaskCancelledError, wrap,
} from 'cockatiel';
import { classifyKafkaError } from './kafka-errors.js';

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
}

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
 */
export class KafkaPolicy {
  private readonly breaker;
  private readonly policy;
  private readonly listeners = new Set<(state: CircuitName) => void>();
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
  }

  /**
   * Runs `attempt` (called once per try) under the policy. Throws the last error when retries are
   * exhausted, at once for a rejected record, or a BrokenCircuitError when the circuit is open.
   */
  execute<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.policy.execute(() => attempt(), signal);
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
}

/** The circuit refused the call (open or isolated) or the call was cancelled: nothing reached Kafka. */
export function isCircuitError(err: unknown): boolean {
  return err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError || err instanceof TaskCancelledError;
}
