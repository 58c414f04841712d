import type { ServerWritableStream } from '@grpc/grpc-js';
import {
  type GetCheckpointRequest, type GetCheckpointResponse, QueryOrder, type QueryRequest, type QueryResponse, type VerifyChainRequest, type VerifyChainResponse,
} from '../../../generated/audit/v1/audit_service.js';
import { toProtoCheckpoint } from '../../contract/checkpoint-mapping.js';
import { toFilter } from '../../contract/filter-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import { queryHistory } from '../../dispatch/history.js';
import { AppError } from '../../domain/errors.js';
import type { EventLog } from '../../domain/ports.js';
import type { FilterBudget } from '../../filtering/cpu-budget.js';
import type { Permissions } from '../../security/roles.js';
import { type Checkpointer, disagreement } from '../../store/checkpointer.js';
import { drained } from './drained.js';
import { eventsFrames, QUERY_BATCH_TAG } from './wire.js';
import { type PipelineDeps, serverStream, unary } from './pipeline.js';

export interface HistoryDeps extends PipelineDeps {
  readonly eventLog: EventLog;
  readonly limits: InputLimits;
  readonly maxExpressionLength: number;
  readonly filterBudget?: FilterBudget | undefined;
  readonly checkpoints?: Checkpointer | undefined;
  readonly batchSize: number;
}

/** The Query, VerifyChain and GetCheckpoint RPCs: reads of stored history, never touching live routing. */
export function createHistoryHandlers(deps: HistoryDeps) {
  async function query(call: ServerWritableStream<QueryRequest, QueryResponse>, caller: Permissions): Promise<void> {
    const { request } = call;
    const page = queryHistory(deps.eventLog, {
      viewer: deps.security.viewer(caller),
      filter: toFilter(request.filter, deps.limits),
      order: request.order === QueryOrder.QUERY_ORDER_ASCENDING ? 'asc' : 'desc',
      limit: request.limit,
      pageToken: request.pageToken,
      maxExpressionLength: deps.maxExpressionLength,
      filterBudget: deps.filterBudget,
    });
    for (let i = 0; i < page.events.length && !call.cancelled; i += deps.batchSize) {
      // Pre-encoded frames: the service definition's serializer passes Buffers through (wire.ts).
      for (const frame of eventsFrames(page.events.slice(i, i + deps.batchSize), QUERY_BATCH_TAG)) {
        if (!call.write(frame as unknown as QueryResponse) && !(await drained(call))) return;
      }
    }
    const nextPageToken = page.nextPageToken === undefined ? '' : String(page.nextPageToken);
    call.write({ kind: { $case: 'pageEnd', pageEnd: { nextPageToken, count: page.events.length } } });
    call.end();
  }

  return {
    query: serverStream(deps, 'Query', 'read', query),

    getCheckpoint: unary<GetCheckpointRequest, GetCheckpointResponse>(deps, 'GetCheckpoint', 'read', () => {
      const checkpoint = deps.checkpoints?.newest();
      if (!checkpoint) throw new AppError('NOT_FOUND', deps.checkpoints ? 'no checkpoint was signed yet' : 'checkpoints are off (storage.checkpoints.key_file)');
      return { checkpoint: toProtoCheckpoint(checkpoint) };
    }),

    verifyChain: unary<VerifyChainRequest, VerifyChainResponse>(deps, 'VerifyChain', 'ops', async ({ fromSequence, toSequence }) => {
      const log = deps.eventLog;
      const [from, to] = [fromSequence || undefined, toSequence || undefined];
      const result = log.verifyChainOffThread ? await log.verifyChainOffThread(from, to) : log.verifyChain(from, to);
      // The chain can be whole and still cut short or rewritten throughout: the checkpoint says.
      const newest = deps.checkpoints?.newest();
      const problem = newest && disagreement(deps.eventLog, newest);
      if (problem) throw new AppError('DATA_LOSS', problem);
      return { ...result, firstBreak: result.firstBreak };
    }),
  };
}
