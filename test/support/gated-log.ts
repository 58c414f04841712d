import type { NewAuditEvent } from '../../src/domain/event.js';
import type { AppendResult } from '../../src/domain/ports.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';

/**
 * The real memory log, with a gate the test holds closed to stand for a slow disk: appends wait until
 * open() so queues fill up deterministically, without timing.
 */
export class GatedLog extends MemoryEventLog {
  private gate?: { promise: Promise<void>; open: () => void };
  appendCalls = 0;

  constructor() {
    super(100_000, { now: () => new Date() });
  }

  hold(): void {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  open(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  override async append(batch: readonly NewAuditEvent[]): Promise<AppendResult[]> {
    this.appendCalls++;
    if (this.gate) await this.gate.promise;
    return super.append(batch);
  }
}
