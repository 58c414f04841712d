import { randomUUID } from 'node:crypto';
import { typeInfo } from '../domain/catalog.js';
import { AppError } from '../domain/errors.js';
import type { ErasureSelector, PersonalData } from '../domain/erasure.js';
import type { Clock } from '../domain/ports.js';
import type { Dispatcher } from './dispatcher.js';

export interface ErasureRequest {
  readonly selector: ErasureSelector;
  readonly reason: string;
  /** The authenticated subject asking for it (the erasure event's user_id). */
  readonly requester: string;
}

export interface ErasureResult {
  readonly eventsChanged: number;
  readonly valuesErased: number;
  readonly erasureId: string;
  readonly recordSequence: number;
}

/**
 * Erases a data subject's personal values from the log, then records the erasure as a DATA_DELETED
 * event: who asked, why, by which criterion (the key's name, never the value) and how much was
 * erased. Idempotent: erasing again changes nothing and is recorded again.
 */
export async function erasePersonalData(dispatcher: Dispatcher, clock: Clock, request: ErasureRequest, personal: PersonalData): Promise<ErasureResult> {
  const { log } = dispatcher;
  if (!log.erase) {
    throw new AppError('FAILED_PRECONDITION', 'this log cannot erase: in cluster mode the Kafka topic holds every value (use the topic\'s retention)');
  }
  const { selector } = request;
  const outcome = log.erase(selector, personal);
  const erasureId = randomUUID();
  const recorded = await dispatcher.publish({
    id: randomUUID(), type: 'DATA_DELETED', severity: typeInfo('DATA_DELETED').defaultSeverity, timestamp: clock.now(),
    userId: request.requester, entityType: 'personal_data', entityId: erasureId, action: 'erase_personal_data', result: 'SUCCESS',
    metadata: {
      criterion: 'userId' in selector ? 'user_id' : `metadata.${selector.metadataKey}`,
      reason: request.reason, events_changed: outcome.eventsChanged, values_erased: outcome.valuesErased,
    },
    correlationId: '', source: 'auditstream', traceparent: '',
  });
  return { ...outcome, erasureId, recordSequence: recorded.event.sequence };
}
