import {
  circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry, timeout, TimeoutStrategy, wrap,
} from 'cockatiel';
import { DeliveryError } from './sender.js';

export interface WebhookPolicyOptions {
  /** Retries after the first attempt; then the batch's events become dead letters. */
  readonly maxRetries: number;
  /** The first retry's delay; later ones grow exponentially (with jitter) up to retryBackoffMs. */
  readonly retryDelayMs: number;
  readonly retryBackoffMs: number;
  /** The longest one POST may take, connecting and uploading included. */
  readonly timeoutMs: number;
  /** Consecutive failed requests that open the circuit. */
  readonly breakerThreshold: number;
  /** How long an open circuit refuses requests before letting one test request through. */
  readonly halfOpenAfterMs: number;
}

export type CircuitName = 'closed' | 'open' | 'half-open' | 'isolated';

const CIRCUIT_NAMES: Record<CircuitState, CircuitName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/** The worker gave the call up (pause, delete, shutdown): not the endpoint's fault, so neither retried nor counted. */
export class Stopped extends Error {
  override name = 'Stopped';
  constructor() {
    super('the webhook stopped delivering');
  }
}

/**
 * One endpoint's policy, made once per webhook so an endpoint's failures never open another's
 * circuit: retry with exponential backoff, around a circuit breaker, around a timeout per attempt.
 *
 * - Every failure counts alike (not 2xx, no answer in time, no connection): each is retried, and
 *   `breakerThreshold` of them in a row open the circuit.
 * - While the circuit is open, a try fails at once without a request (a BrokenCircuitError), and is
 *   retried like any failure: the retries measure how long a batch may wait, not how many requests
 *   reached the endpoint. With the defaults (15 retries from 1 s doubling up to 10 min) that is about
 *   an hour; then the batch is dead-lettered and the next one starts its own retries.
 * - The timeout is cooperative: it aborts the attempt's signal, and fetch gives up connecting,
 *   uploading or waiting at once, so nothing of a timed-out request goes on in the background.
 * - Retry delays and timeouts do not keep the process alive (unref'd timers).
 */
export class WebhookPolicy {
  private readonly breaker;
  private readonly retrying;
  private readonly once;
  private readonly failureListeners = new Set<(failure: DeliveryError) => void>();

  constructor(readonly options: WebhookPolicyOptions) {
    const counts = handleWhen((err) => !(err instanceof Stopped));
    this.breaker = circuitBreaker(counts, { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.breakerThreshold) });
    const bounded = timeout(options.timeoutMs, TimeoutStrategy.Cooperative).dangerouslyUnref();
    this.once = wrap(this.breaker, bounded);
    this.retrying = wrap(
      retry(counts, {
        maxAttempts: options.maxRetries,
        backoff: new ExponentialBackoff({ initialDelay: options.retryDelayMs, maxDelay: options.retryBackoffMs }),
      }).dangerouslyUnref(),
      this.breaker,
      bounded,
    );
  }

  /**
   * Runs `attempt` under retries, breaker and timeout. `attempt` gets a signal aborted at the timeout;
   * a timed-out attempt is reported as a DeliveryError "timeout". Throws the last error when the
   * retries are used up.
   */
  execute(attempt: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    return this.retrying.execute(({ signal: inner }) => this.timed(attempt, inner, signal), signal);
  }

  /** One try through the breaker and the timeout, no retries (redrive: the operator decides when to try again). */
  executeOnce(attempt: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    return this.once.execute(({ signal: inner }) => this.timed(attempt, inner, signal), signal);
  }

  get circuit(): CircuitName {
    return CIRCUIT_NAMES[this.breaker.state];
  }

  onCircuitChange(listener: (state: CircuitName) => void): void {
    this.breaker.onStateChange((state) => listener(CIRCUIT_NAMES[state]));
  }

  /** Called with every request that failed (not the tries an open circuit refused, nor given-up ones). */
  onFailedAttempt(listener: (failure: DeliveryError) => void): void {
    this.failureListeners.add(listener);
  }

  /** Tells a timeout (the inner signal fired) from the worker giving up (the outer one did). */
  private async timed(attempt: (signal: AbortSignal) => Promise<void>, inner: AbortSignal, outer: AbortSignal): Promise<void> {
    if (outer.aborted) throw new Stopped();
    try {
      await attempt(inner);
    } catch (err) {
      if (outer.aborted) throw new Stopped();
      const failure = inner.aborted ? new DeliveryError('timeout', `no answer within ${this.options.timeoutMs} ms`)
        : err instanceof DeliveryError ? err : new DeliveryError('error', err instanceof Error ? err.message : String(err));
      for (const listener of this.failureListeners) listener(failure);
      throw failure;
    }
  }
}
