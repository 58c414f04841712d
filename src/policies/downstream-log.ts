import type { Logger } from '../observability/logger.js';
import type { KafkaErrorClass } from './kafka-errors.js';
import type { CircuitName, KafkaPolicy } from './kafka-policy.js';

export interface DownstreamLogOptions {
  /** Downstream name as metrics and /readyz show it (kafka, kafka-log). */
  readonly downstream: string;
  /** How log lines name it, e.g. "Kafka" or "Kafka (cluster log)". */
  readonly label: string;
  /** While it keeps failing, at most one more warning this often (default 30 s). */
  readonly repeatMs?: number | undefined;
  /** Fields added to every line (e.g. the lag). */
  readonly details?: () => Record<string, unknown>;
}

/**
 * Tells an operator when a downstream starts failing and when it recovers, from its policy's attempts
 * and circuit, without flooding the log during an outage:
 * - warn when it starts failing (the first failed attempt after a success), with the reason;
 * - warn when its circuit opens, with the last reason (re-openings after a failed half-open test are
 *   the same outage and are not announced again);
 * - while it keeps failing, at most one more warn per `repeatMs`, with how long and how many attempts;
 * - info once when it recovers (an attempt succeeds again, which closes an open circuit), with how
 *   long it was failing.
 * Half-open tests and the calls an open circuit refuses are logged at debug only.
 */
export class DownstreamLog {
  private failingSince: number | undefined;
  private failedAttempts = 0;
  private lastWarnAt = 0;
  private lastError: KafkaErrorClass | undefined;
  private openAnnounced = false;
  private readonly repeatMs: number;

  constructor(
    policy: KafkaPolicy,
    private readonly logger: Logger,
    private readonly options: DownstreamLogOptions,
  ) {
    this.repeatMs = options.repeatMs ?? 30_000;
    policy.onOutcome((outcome) => (outcome.ok ? this.recovered('closed') : this.failed(outcome.error)));
    policy.onCircuitChange((state) => this.circuit(state));
  }

  /** Whether the downstream is failing now (a failed attempt since the last success). */
  get failing(): boolean {
    return this.failingSince !== undefined;
  }

  private failed(error: KafkaErrorClass): void {
    // Only failures that count towards the breaker say anything about availability.
    if (error.kind !== 'transient') return;
    const now = Date.now();
    this.lastError = error;
    this.failedAttempts++;
    if (this.failingSince === undefined) {
      this.failingSince = now;
      this.warn(now, { reason: error.reason, error: error.message }, `${this.options.label} is failing: ${error.reason}`);
    } else if (now - this.lastWarnAt >= this.repeatMs) {
      this.warn(now, {
        reason: error.reason, error: error.message, failingForMs: now - this.failingSince, failedAttempts: this.failedAttempts,
      }, `${this.options.label} is still failing: ${error.reason}`);
    }
  }

  private circuit(state: CircuitName): void {
    if (state === 'open' && !this.openAnnounced) {
      this.openAnnounced = true;
      const since = this.failingSince ?? Date.now();
      this.warn(Date.now(), {
        reason: this.lastError?.reason, error: this.lastError?.message, failedAttempts: this.failedAttempts, failingForMs: Date.now() - since,
      }, `${this.options.label} circuit open: sends fail fast (${this.lastError?.reason ?? 'failures'})`);
    } else if (state === 'closed') {
      this.recovered(state);
    } else {
      this.logger.debug({ downstream: this.options.downstream, circuit: state }, `${this.options.label} circuit ${state}`);
    }
  }

  private recovered(circuit: CircuitName): void {
    if (this.failingSince === undefined) return;
    const failingForMs = Date.now() - this.failingSince;
    this.logger.info({
      downstream: this.options.downstream, circuit, failingForMs, failedAttempts: this.failedAttempts, ...this.options.details?.(),
    }, `${this.options.label} recovered${this.openAnnounced ? ': circuit closed' : ''}`);
    this.failingSince = undefined;
    this.failedAttempts = 0;
    this.lastError = undefined;
    this.openAnnounced = false;
  }

  private warn(now: number, fields: Record<string, unknown>, message: string): void {
    this.lastWarnAt = now;
    this.logger.warn({ downstream: this.options.downstream, ...fields, ...this.options.details?.() }, message);
  }
}
