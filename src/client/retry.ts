import { DelegateBackoff, ExponentialBackoff, handleWhen, type IBackoff, type IRetryBackoffContext, retry } from 'cockatiel';
import { abortReason, AuditStreamError } from './errors.js';

/** How often and how patiently to try again. */
export interface RetryLimits {
  /** Attempts after the first (Infinity: until it works or the signal aborts). */
  readonly maxAttempts?: number | undefined;
  /** The first backoff delay; later ones grow exponentially, with jitter. */
  readonly initialDelayMs?: number | undefined;
  /** The longest backoff delay. A server's `retry-after-ms` is honoured even when it is longer. */
  readonly maxDelayMs?: number | undefined;
}

/** RetryLimits with every value decided. */
export interface RetrySchedule {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** What the application is told before each retry. */
export interface RetryInfo {
  /** Why the previous attempt failed. */
  readonly error: unknown;
  /** 1 for the first retry. */
  readonly attempt: number;
  /** How long the library waits before it. */
  readonly delayMs: number;
}

export interface RetryPlan {
  readonly limits: RetrySchedule;
  readonly retryable: (err: unknown) => boolean;
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
}

/** `limits` with every unset field taken from `defaults`. */
export function retryLimits(limits: RetryLimits | undefined, defaults: RetrySchedule): RetrySchedule {
  return {
    maxAttempts: limits?.maxAttempts ?? defaults.maxAttempts,
    initialDelayMs: limits?.initialDelayMs ?? defaults.initialDelayMs,
    maxDelayMs: limits?.maxDelayMs ?? defaults.maxDelayMs,
  };
}

/** Waits `ms`, or less when `signal` aborts (rejecting with its reason). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` under a cockatiel retry policy: cockatiel decides whether an error is retried and
 * how many times, and computes the delays (exponential with decorrelated jitter), replaced by the
 * server's `retry-after-ms` when it sent one. The wait itself happens here, at the start of the next
 * attempt, and ends the moment `signal` aborts: cockatiel 3's own wait is a plain timer that an abort
 * does not end, which would keep a cancelled subscription or a closed client alive for up to
 * maxDelayMs. `attempt` gets its number (0 first) and the error of the attempt before it.
 */
export async function withRetries<T>(
  attempt: (number: number, previousError: unknown) => Promise<T>,
  plan: RetryPlan,
  signal: AbortSignal,
): Promise<T> {
  let wait = 0;
  let previousError: unknown;
  const schedule = new ExponentialBackoff({ initialDelay: plan.limits.initialDelayMs, maxDelay: plan.limits.maxDelayMs });
  const policy = retry(handleWhen((err) => !signal.aborted && plan.retryable(err)), {
    maxAttempts: plan.limits.maxAttempts,
    backoff: new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>((context, previous) => {
      const exponential = previous ? previous.next(context) : schedule.next();
      previousError = 'error' in context.result ? context.result.error : undefined;
      const hinted = previousError instanceof AuditStreamError ? previousError.retryAfterMs : undefined;
      wait = hinted ?? exponential.duration;
      return { delay: 0, state: exponential };
    }),
  });
  const listener = policy.onRetry(({ attempt: number }) => plan.onRetry?.({ error: previousError, attempt: number, delayMs: wait }));
  try {
    return await policy.execute(async ({ attempt: number }) => {
      if (number > 0) await pause(wait, signal);
      signal.throwIfAborted();
      return attempt(number, previousError);
    }, signal);
  } finally {
    listener.dispose();
  }
}
