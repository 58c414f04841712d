import { type DeadLetter, type DeadLetterStore, type DeadLetterView, lettersToRedrive, pageOfLetters, type RedriveResult } from '../../domain/dead-letters.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { EventLog } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import type { KafkaForwarder } from './forwarder.js';

/** The operator's side of the dead letters: list them, send them again. */
export class DeadLetterOps {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly log: EventLog,
    private readonly forwarder: KafkaForwarder,
    private readonly logger: Logger,
  ) {}

  list(afterSequence: number, limit: number): { letters: DeadLetterView[]; nextAfter: number | undefined; total: number } {
    return pageOfLetters(this.store, afterSequence, limit, (sequence) => this.eventAt(sequence));
  }

  /**
   * Sends the given dead letters (or the oldest `limit`) again, one at a time, oldest first, through the
   * forwarder's policy. Once the circuit is open the rest are skipped: nothing would reach Kafka.
   */
  async redrive(sequences: readonly number[], limit: number): Promise<RedriveResult[]> {
    const { letters, notFound } = lettersToRedrive(this.store, sequences, limit);
    const results: RedriveResult[] = notFound;
    let circuitOpen = false;
    for (const letter of letters) {
      const result = await this.redriveOne(letter, circuitOpen);
      results.push(result);
      circuitOpen ||= result.outcome === 'skipped';
    }
    const delivered = results.filter((r) => r.outcome === 'delivered').length;
    this.logger.info({ asked: results.length, delivered, remaining: this.store.count() }, 'Kafka dead letters redriven');
    return results.sort((a, b) => a.sequence - b.sequence);
  }

  private async redriveOne(letter: DeadLetter, circuitOpen: boolean): Promise<RedriveResult> {
    const base = { sequence: letter.sequence, eventId: letter.eventId };
    if (circuitOpen) return { ...base, outcome: 'skipped', reason: 'circuit open' };
    const event = this.eventAt(letter.sequence);
    if (!event) return { ...base, outcome: 'missing', reason: 'the event is no longer in the log' };
    const sent = await this.forwarder.sendAlone(event);
    if (sent.ok) {
      this.store.remove(letter.sequence);
      return { ...base, outcome: 'delivered', reason: '' };
    }
    if (sent.circuitOpen || sent.error.kind === 'transient') {
      return { ...base, outcome: 'skipped', reason: sent.circuitOpen ? 'circuit open' : sent.error.reason };
    }
    this.store.record({
      sequence: letter.sequence,
      eventId: letter.eventId,
      destination: letter.destination,
      reason: sent.error.reason,
      message: sent.error.message,
      attempts: sent.attempts,
      failedAt: new Date(),
    });
    return { ...base, outcome: 'failed', reason: sent.error.reason };
  }

  private eventAt(sequence: number): StoredAuditEvent | undefined {
    const [event] = this.log.readAfter(sequence - 1, 1);
    return event?.sequence === sequence ? event : undefined;
  }
}
