import {
  type KafkaStats, type ListDeadLettersRequest, type ListDeadLettersResponse, type RedriveDeadLettersRequest,
  type RedriveDeadLettersResponse,
} from '../../../generated/audit/v1/audit_service.js';
import { toProtoEvent } from '../../contract/event-mapping.js';
import { AppError } from '../../domain/errors.js';
import type { KafkaSink } from '../kafka/index.js';
import { type PipelineDeps, unary } from './pipeline.js';
import { toTimestamp } from '../../contract/time-mapping.js';
import { checkLimit, MAX_LIMIT, OUTCOMES, parsePageToken } from './dead-letter-paging.js';

export interface DeadLetterDeps extends PipelineDeps {
  /** Undefined when kafka.enabled is false. */
  readonly kafka: KafkaSink | undefined;
}


/** The Kafka forwarder's part of GetStats; undefined when Kafka is off. */
export function kafkaStats(kafka: KafkaSink | undefined): KafkaStats | undefined {
  if (!kafka) return undefined;
  const s = kafka.status();
  return { circuitState: s.circuit, cursor: s.cursor, lag: s.lag, deadLetters: s.deadLetters, delivered: s.delivered };
}

/** ListDeadLetters and RedriveDeadLetters: the operator's view of what Kafka refused for good. */
export function createDeadLetterHandlers(deps: DeadLetterDeps) {
  const sink = (): KafkaSink => {
    if (!deps.kafka) throw new AppError('FAILED_PRECONDITION', 'kafka.enabled is false: there is no Kafka forwarder and no dead letters');
    return deps.kafka;
  };
  return {
    listDeadLetters: unary<ListDeadLettersRequest, ListDeadLettersResponse>(deps, 'ListDeadLetters', 'ops', ({ limit, pageToken }) => {
      const after = parsePageToken(pageToken, 'ListDeadLetters');
      const page = sink().deadLetters.list(after, checkLimit(limit));
      return {
        deadLetters: page.letters.map(({ letter, event }) => ({
          sequence: letter.sequence,
          eventId: letter.eventId,
          topic: letter.destination,
          reason: letter.reason,
          message: letter.message,
          attempts: letter.attempts,
          firstFailedAt: toTimestamp(letter.firstFailedAt),
          lastFailedAt: toTimestamp(letter.lastFailedAt),
          event: event && toProtoEvent(event),
        })),
        nextPageToken: page.nextAfter === undefined ? '' : String(page.nextAfter),
        total: page.total,
      };
    }),

    redriveDeadLetters: unary<RedriveDeadLettersRequest, RedriveDeadLettersResponse>(deps, 'RedriveDeadLetters', 'ops', async ({ sequences, limit }) => {
      if (sequences.length > MAX_LIMIT) {
        throw AppError.invalid('sequences', `has ${sequences.length} entries, the limit is ${MAX_LIMIT}`);
      }
      const kafka = sink();
      const results = await kafka.deadLetters.redrive(sequences, checkLimit(limit));
      return {
        results: results.map((r) => ({ sequence: r.sequence, eventId: r.eventId, outcome: OUTCOMES[r.outcome], reason: r.reason })),
        deliveredCount: results.filter((r) => r.outcome === 'delivered').length,
        remaining: kafka.status().deadLetters,
      };
    }),
  };
}
