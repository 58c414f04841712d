import type { Logger } from '../../observability/logger.js';
import type { CircuitName } from './policy.js';
import type { DeliveryError } from './sender.js';

const REPEAT_MS = 30_000;

/**
 * Tells an operator when a webhook's endpoint starts failing, when its circuit opens and when it
 * recovers, without a line per failed request: warn on the first failure after a success, warn when
 * the circuit opens, at most one "still failing" warning per 30 s, and one info line on recovery with
 * how long it failed. The Kafka forwarder's DownstreamLog does the same for Kafka's policy.
 */
export class FailureLog {
  private failingSince: number | undefined;
  private failures = 0;
  private lastWarnAt = 0;
  private openAnnounced = false;

  constructor(
    private readonly logger: Logger,
    private readonly details: () => Record<string, unknown>,
  ) {}

  failed(failure: DeliveryError): void {
    const now = Date.now();
    this.failures++;
    if (this.failingSince === undefined) {
      this.failingSince = now;
      this.warn(now, { reason: failure.reason, error: failure.message }, `webhook endpoint is failing: ${failure.reason}`);
    } else if (now - this.lastWarnAt >= REPEAT_MS) {
      this.warn(now, { reason: failure.reason, error: failure.message, failingForMs: now - this.failingSince, failedRequests: this.failures },
        `webhook endpoint is still failing: ${failure.reason}`);
    }
  }

  succeeded(): void {
    if (this.failingSince === undefined) return;
    this.logger.info({ failingForMs: Date.now() - this.failingSince, failedRequests: this.failures, ...this.details() },
      `webhook endpoint recovered${this.openAnnounced ? ': circuit closed' : ''}`);
    this.failingSince = undefined;
    this.failures = 0;
    this.openAnnounced = false;
  }

  circuit(state: CircuitName): void {
    if (state === 'open' && !this.openAnnounced) {
      this.openAnnounced = true;
      this.warn(Date.now(), { failedRequests: this.failures }, 'webhook circuit open: requests fail fast until a test request succeeds');
    } else {
      this.logger.debug({ circuit: state, ...this.details() }, `webhook circuit ${state}`);
    }
  }

  private warn(now: number, fields: Record<string, unknown>, message: string): void {
    this.lastWarnAt = now;
    this.logger.warn({ ...fields, ...this.details() }, message);
  }
}
