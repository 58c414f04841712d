import type { EventLog } from '../domain/ports.js';
import type { Logger } from './logger.js';
import type { DownstreamStatus } from '../domain/ports.js';

export interface Readiness {
  readonly ready: boolean;
  readonly log: 'writable' | 'unwritable';
  /** Why the log cannot be written (cause and path), while it cannot. */
  readonly reason?: string | undefined;
  readonly shuttingDown: boolean;
  readonly downstreams: readonly DownstreamStatus[];
}

/** While the log keeps failing, its error line is repeated at most this often. */
const REPEAT_MS = 30_000;

/**
 * Readiness: the log can be written and the server is not shutting down. An open circuit to a
 * downstream (Kafka) is reported but does not make the service unready: events still land in the log
 * and are forwarded once the downstream is back. Checked periodically and at once after an append
 * fails. A failing log is said loudly: an error line with the cause (rate-limited), readiness with the
 * reason, and a count of failed appends per cause; an info line when it writes again.
 */
export class HealthMonitor {
  private shuttingDown = false;
  private current?: Readiness | undefined;
  private timer?: NodeJS.Timeout | undefined;
  private lastSaid?: { reason: string; at: number } | undefined;
  /** Appends that failed, by cause (SQLITE_FULL, SQLITE_IOERR_WRITE, ...). */
  readonly writeErrors = new Map<string, number>();

  constructor(
    private readonly log: EventLog,
    private readonly downstreams: () => readonly DownstreamStatus[],
    private readonly onChange: (serving: boolean) => void,
    private readonly logger: Logger,
  ) {}

  start(intervalMs: number): void {
    this.check();
    this.timer = setInterval(() => this.check(), intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
    this.check();
  }

  /** An append failed: count it by cause, then look at the log now. */
  appendFailed(err: unknown): void {
    const code = (err as { code?: unknown }).code;
    const reason = typeof code === 'string' ? code : 'UNKNOWN';
    this.writeErrors.set(reason, (this.writeErrors.get(reason) ?? 0) + 1);
    this.check();
  }

  /**
   * The readiness last checked (periodically and after each failed append), with the downstreams as
   * they are now: serving /readyz costs no write, however often it is polled.
   */
  status(): Readiness {
    const current = this.current ?? this.check();
    return { ...current, ready: current.ready && !this.shuttingDown, shuttingDown: this.shuttingDown, downstreams: this.downstreams() };
  }

  /** Re-evaluates readiness (a real write: see EventLog.checkWritable) and reports a change. */
  check(): Readiness {
    const writable = this.log.checkWritable();
    const reason = writable ? undefined : (this.log.writeProblem?.() ?? 'the event log cannot be written');
    this.say(reason);
    const next: Readiness = {
      ready: writable && !this.shuttingDown,
      log: writable ? 'writable' : 'unwritable',
      ...(reason === undefined ? {} : { reason }),
      shuttingDown: this.shuttingDown,
      downstreams: this.downstreams(),
    };
    if (next.ready !== this.current?.ready) this.onChange(next.ready);
    this.current = next;
    return next;
  }

  private say(reason: string | undefined): void {
    const now = Date.now();
    if (reason === undefined) {
      if (this.lastSaid) this.logger.info('the event log is writable again');
      this.lastSaid = undefined;
    } else if (!this.lastSaid || this.lastSaid.reason !== reason || now - this.lastSaid.at >= REPEAT_MS) {
      this.logger.error({ reason }, 'the event log cannot be written: publishes are refused UNAVAILABLE until a write succeeds');
      this.lastSaid = { reason, at: now };
    }
  }
}
