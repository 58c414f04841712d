import type { AuditServiceServer, GetStatsRequest, GetStatsResponse } from '../../../generated/audit/v1/audit_service.js';
import type { InputLimits } from '../../contract/limits.js';
import { toTimestamp } from '../../contract/time-mapping.js';
import type { Dispatcher } from '../../dispatch/dispatcher.js';
import type { PumpOptions } from '../../dispatch/pump.js';
import type { FilterBudget } from '../../filtering/cpu-budget.js';
import type { Logger } from '../../observability/logger.js';
import type { Security } from '../../security/security.js';
import type { Checkpointer } from '../../store/checkpointer.js';
import type { KafkaSink } from '../kafka/index.js';
import { createBackupHandler } from './backup-handler.js';
import { createDeadLetterHandlers, kafkaStats } from './dead-letter-handlers.js';
import { createErasureHandler } from './erasure-handler.js';
import { createHistoryHandlers } from './history-handlers.js';
import { type PipelineDeps, unary } from './pipeline.js';
import { createPublishHandlers } from './publish-handlers.js';
import { createSubscriptionHandlers } from './subscription-handlers.js';
import type { Webhooks } from '../webhooks/index.js';
import { createWebhookHandlers } from './webhook-handlers.js';

export interface AuditServiceDeps {
  readonly dispatcher: Dispatcher;
  readonly limits: InputLimits;
  readonly maxExpressionLength: number;
  readonly filterBudget?: FilterBudget | undefined;
  /** Signed checkpoints, when storage.checkpoints is on (GetCheckpoint, VerifyChain). */
  readonly checkpoints?: Checkpointer | undefined;
  readonly pump: PumpOptions;
  readonly log: Logger;
  /** Open Subscribe streams, so shutdown can wait for them to drain. */
  readonly streams: Set<Promise<void>>;
  /** The Kafka forwarder, when kafka.enabled (GetStats, dead letter RPCs). */
  readonly kafka?: KafkaSink | undefined;
  /** The webhooks; absent in cluster mode (their RPCs answer FAILED_PRECONDITION). */
  readonly webhooks?: Webhooks | undefined;
  readonly security: Security;
}

/**
 * The AuditService: its RPCs grouped by concern, each handler built on the one pipeline (pipeline.ts:
 * authenticate, authorize, run, map errors, one log line).
 */
export function createAuditService(deps: AuditServiceDeps): AuditServiceServer {
  const { dispatcher, limits, security } = deps;
  const pipeline: PipelineDeps = { security, log: deps.log };
  return {
    ...createPublishHandlers({ ...pipeline, dispatcher, limits }),
    ...createSubscriptionHandlers({ ...pipeline, dispatcher, limits, pump: deps.pump, streams: deps.streams }),
    ...createHistoryHandlers({
      ...pipeline, eventLog: dispatcher.log, limits, maxExpressionLength: deps.maxExpressionLength,
      filterBudget: deps.filterBudget, checkpoints: deps.checkpoints, batchSize: deps.pump.batchSize,
    }),
    ...createDeadLetterHandlers({ ...pipeline, kafka: deps.kafka }),
    ...createWebhookHandlers({ ...pipeline, webhooks: deps.webhooks, limits }),
    erasePersonalData: createErasureHandler({ ...pipeline, dispatcher, limits }),
    backup: createBackupHandler({ ...pipeline, eventLog: dispatcher.log }),
    getStats: unary<GetStatsRequest, GetStatsResponse>(pipeline, 'GetStats', 'ops', () => {
      const { counters, ingest } = dispatcher;
      const lanes = [ingest.critical, ingest.regular].map((l) => ({ name: l.name, size: l.items.length, capacity: l.capacity }));
      return {
        eventsPublished: counters.published, eventsFailed: counters.failed, duplicates: counters.duplicates,
        eventsDropped: dispatcher.droppedTotal(),
        lanes, activeSubscriptions: dispatcher.registry.size, lastSequence: dispatcher.log.lastSequence(),
        startedAt: toTimestamp(dispatcher.startedAt),
        kafka: kafkaStats(deps.kafka),
      };
    }),
  };
}
