import type { EventLog } from '../domain/ports.js';
import type { DownstreamStatus } from './metrics.js';

export interface Readiness {
  readonly ready: boolean;
  readonly log: 'writable' | 'unwritable';
  readonly shuttingDown: boolean;
  readonly downstreams: readonly DownstreamStatus[];
}

/**
 * Readiness: the log can be written and the server is not shutting down. An open circuit to a
 * downstream (Kafka) is reported but does not make the service unready: events still land in the log
 * and are forwarded once the downstream is back. Checked periodically and at once after an append fails.
 */
export class HealthMonitor {
  private shuttingDown = false;
  private current?: Readiness;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly log: EventLog,
    private readonly downstreams: () => readonly DownstreamStatus[],
    private readonly onChange: (serving: boolean) => void,
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

  /** Re-evaluates readiness and reports a change. */
  check(): Readiness {
    const writable = this.log.checkWritable();
    const next: Readiness = {
      ready: writable && !this.shuttingDown,
      log: writable ? 'writable' : 'unwritable',
      shuttingDown: this.shuttingDown,
      downstreams: this.downstreams(),
    };
    if (next.ready !== this.current?.ready) this.onChange(next.ready);
    this.current = next;
    return next;
  }
}
