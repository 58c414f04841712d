import { type DeadLetter, type DeadLetterStore, type DeadLetterView, lettersToRedrive, pageOfLetters, type RedriveResult } from '../../domain/dead-letters.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { EventLog } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import type { Selector } from './selector.js';
import type { SendOutcome, WebhookWorker } from './worker.js';

/** The operator's side of one webhook's dead letters: list them, send them again. */
export class WebhookDeadLetters {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly log: EventLog,
    private readonly worker: WebhookWorker,
    private readonly selector: Selector,
    private readonly batchSize: number,
    private readonly logger: Logger,
  ) {}

  count(): number {
    return this.store.count();
  }

  list(afterSequence: number, limit: number): { letters: DeadLetterView[]; nextAfter: number | undefined; total: number } {
    return pageOfLetters(this.store, afterSequence, limit, (sequence) => this.view(sequence));
  }

  /**
   * Sends the given letters (or the oldest `limit`) again, oldest first, in requests of up to
   * batchSize events, each tried once through the webhook's breaker and timeout (the operator decides
   * when to try again). Once the circuit is open the rest are skipped. A redrive may run beside the
   * webhook's own loop: its events are older than the ones the loop sends, so they arrive out of log
   * order, which the receiver can tell by `sequence`.
   */
  async redrive(sequences: readonly number[], limit: number): Promise<RedriveResult[]> {
    const { letters, notFound } = lettersToRedrive(this.store, sequences, limit);
    const results: RedriveResult[] = notFound;
    const ready: Array<{ letter: DeadLetter; event: StoredAuditEvent }> = [];
    for (const letter of letters) {
      const event = this.view(letter.sequence);
      if (event) ready.push({ letter, event });
      else results.push({ sequence: letter.sequence, eventId: letter.eventId, outcome: 'missing', reason: 'the event is no longer in the log, or no longer visible with the webhook\'s roles' });
    }
    let circuitOpen = false;
    for (let i = 0; i < ready.length; i += this.batchSize) {
      const chunk = ready.slice(i, i + this.batchSize);
      const sent: SendOutcome | undefined = circuitOpen ? undefined : await this.worker.sendOnce(chunk.map((c) => c.event));
      for (const { letter } of chunk) {
        const base = { sequence: letter.sequence, eventId: letter.eventId };
        if (!sent || (!sent.ok && sent.circuitOpen)) {
          results.push({ ...base, outcome: 'skipped', reason: 'circuit open' });
        } else if (sent.ok) {
          this.store.remove(letter.sequence);
          results.push({ ...base, outcome: 'delivered', reason: '' });
        } else {
          this.store.record({ ...base, destination: letter.destination, reason: sent.reason, message: sent.message, attempts: 1, failedAt: new Date() });
          results.push({ ...base, outcome: 'failed', reason: sent.reason });
        }
      }
      circuitOpen ||= sent !== undefined && !sent.ok && sent.circuitOpen;
    }
    const delivered = results.filter((r) => r.outcome === 'delivered').length;
    this.logger.info({ asked: results.length, delivered, remaining: this.store.count() }, 'webhook dead letters redriven');
    return results.sort((a, b) => a.sequence - b.sequence);
  }

  private view(sequence: number): StoredAuditEvent | undefined {
    const [event] = this.log.readAfter(sequence - 1, 1);
    return event?.sequence === sequence ? this.selector.show(event) : undefined;
  }
}
