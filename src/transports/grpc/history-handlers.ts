import type { ServerWritableStream, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import {
  type GetCheckpointRequest, type GetCheckpointResponse, QueryOrder, type QueryRequest, type QueryResponse, type VerifyChainRequest, type VerifyChainResponse,
} from '../../../generated/audit/v1/audit_service.js';
import { toProtoCheckpoint } from '../../contract/checkpoint-mapping.js';
import { toProtoEvent } from '../../contract/event-mapping.js';
import { toFilter } from '../../contract/filter-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import { queryHistory } from '../../dispatch/history.js';
import { AppError } from '../../domain/errors.js';
import type { EventLog } from '../../domain/ports.js';
import { type Checkpointer, disagreement } from '../../store/checkpointer.js';
import type { FilterBudget } from '../../filtering/cpu-budget.js';
import type { Logger } from '../../observability/logger.js';
import type { Security } from '../../security/security.js';
import { callerOf } from './caller.js';
import { drained } from './drained.js';
import { toGrpcError } from './status.js';

export interface HistoryDeps {
  readonly log: EventLog;
  readonly limits: InputLimits;
  readonly maxExpressionLength: number;
  readonly filterBudget?: FilterBudget;
  readonly checkpoints?: Checkpointer;
  readonly batchSize: number;
  readonly logger: Logger;
  readonly security: Security;
}

/** The Query and VerifyChain RPCs: reads of stored history, never touching live routing. */
export function createHistoryHandlers(deps: HistoryDeps) {
  return {
    async getCheckpoint(call: ServerUnaryCall<GetCheckpointRequest, GetCheckpointResponse>, callback: sendUnaryData<GetCheckpointResponse>): Promise<void> {
      try {
        deps.security.requireRead(await callerOf(deps.security, call));
        const checkpoint = deps.checkpoints?.newest();
        if (!checkpoint) throw new AppError('NOT_FOUND', deps.checkpoints ? 'no checkpoint was signed yet' : 'checkpoints are off (storage.checkpoints.key_file)');
        callback(null, { checkpoint: toProtoCheckpoint(checkpoint) });
      } catch (err) {
        callback(toGrpcError(err, deps.logger));
      }
    },

    async query(call: ServerWritableStream<QueryRequest, QueryResponse>): Promise<void> {
      try {
        const { request } = call;
        const caller = await callerOf(deps.security, call);
        deps.security.requireRead(caller);
        const page = queryHistory(deps.log, {
          viewer: deps.security.viewer(caller),
          filter: toFilter(request.filter, deps.limits),
          order: request.order === QueryOrder.QUERY_ORDER_ASCENDING ? 'asc' : 'desc',
          limit: request.limit,
          pageToken: request.pageToken,
          maxExpressionLength: deps.maxExpressionLength,
          filterBudget: deps.filterBudget,
        });
        for (let i = 0; i < page.events.length && !call.cancelled; i += deps.batchSize) {
          const events = page.events.slice(i, i + deps.batchSize).map(toProtoEvent);
          if (!call.write({ kind: { $case: 'events', events: { events } } })) {
            if (!(await drained(call))) return;
          }
        }
        const nextPageToken = page.nextPageToken === undefined ? '' : String(page.nextPageToken);
        call.write({ kind: { $case: 'pageEnd', pageEnd: { nextPageToken, count: page.events.length } } });
        call.end();
      } catch (err) {
        call.emit('error', toGrpcError(err, deps.logger));
      }
    },

    async verifyChain(call: ServerUnaryCall<VerifyChainRequest, VerifyChainResponse>, callback: sendUnaryData<VerifyChainResponse>): Promise<void> {
      try {
        deps.security.requireOps(await callerOf(deps.security, call));
        const { fromSequence, toSequence } = call.request;
        const result = deps.log.verifyChain(fromSequence || undefined, toSequence || undefined);
        // The chain can be whole and still cut short or rewritten throughout: the checkpoint says.
        const newest = deps.checkpoints?.newest();
        const problem = newest && disagreement(deps.log, newest);
        if (problem) throw new AppError('DATA_LOSS', problem);
        callback(null, { ...result, firstBreak: result.firstBreak });
      } catch (err) {
        callback(toGrpcError(err, deps.logger));
      }
    },
  };
}
