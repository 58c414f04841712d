import {
  type CreateWebhookRequest, type CreateWebhookResponse, type DeleteWebhookRequest, type DeleteWebhookResponse,
  type ListWebhookDeadLettersRequest, type ListWebhookDeadLettersResponse, type ListWebhooksRequest, type ListWebhooksResponse,
  type PauseWebhookRequest, type PauseWebhookResponse, type RedriveWebhookDeadLettersRequest, type RedriveWebhookDeadLettersResponse,
  type ResumeWebhookRequest, type ResumeWebhookResponse, type Webhook,
} from '../../../generated/audit/v1/audit_service.js';
import { toProtoEvent } from '../../contract/event-mapping.js';
import { toFilter, toProtoFilter } from '../../contract/filter-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import { toOptionalTimestamp, toTimestamp } from '../../contract/time-mapping.js';
import { AppError } from '../../domain/errors.js';
import type { Running, Webhooks } from '../webhooks/index.js';
import { parseFilter } from '../webhooks/runtime.js';
import { type PipelineDeps, unary } from './pipeline.js';
import { checkLimit, MAX_LIMIT, OUTCOMES, parsePageToken } from './dead-letter-paging.js';

export interface WebhookHandlerDeps extends PipelineDeps {
  /** Undefined in cluster mode (storage.type kafka). */
  readonly webhooks: Webhooks | undefined;
  readonly limits: InputLimits;
}


/**
 * The webhook RPCs. All need the ops permission (admin): a webhook makes the server send requests
 * to a URL of the creator's choosing, internal addresses included, and what a failing request says
 * (refused, timed out, which status) would let any reader map the internal network. The creator may
 * narrow what the webhook delivers with `roles` (its view is then those roles', redaction included).
 */
export function createWebhookHandlers(deps: WebhookHandlerDeps) {
  const hooks = (): Webhooks => {
    if (!deps.webhooks) throw new AppError('FAILED_PRECONDITION', 'webhooks need storage.type sqlite or memory: in cluster mode every node would deliver every event');
    return deps.webhooks;
  };
  const toProto = (w: Running): Webhook => webhookToProto(w, deps.limits);
  return {
    createWebhook: unary<CreateWebhookRequest, CreateWebhookResponse>(deps, 'CreateWebhook', 'ops', (req, caller) => {
      const filter = toFilter(req.filter, deps.limits);
      const { webhook, drawnSecret } = hooks().create({
        name: req.name, url: req.url, filter, secret: req.secret, batchSize: req.batchSize, roles: req.roles, replayHistory: req.replayHistory,
      }, caller);
      return { webhook: toProto(webhook), secret: drawnSecret };
    }),

    listWebhooks: unary<ListWebhooksRequest, ListWebhooksResponse>(deps, 'ListWebhooks', 'ops', () =>
      ({ webhooks: hooks().list().map(toProto) })),

    pauseWebhook: unary<PauseWebhookRequest, PauseWebhookResponse>(deps, 'PauseWebhook', 'ops', ({ webhook }, caller) =>
      ({ webhook: toProto(hooks().pause(webhook, `paused by ${caller.identity.subject}`)) })),

    resumeWebhook: unary<ResumeWebhookRequest, ResumeWebhookResponse>(deps, 'ResumeWebhook', 'ops', ({ webhook }) =>
      ({ webhook: toProto(hooks().resume(webhook)) })),

    deleteWebhook: unary<DeleteWebhookRequest, DeleteWebhookResponse>(deps, 'DeleteWebhook', 'ops', async ({ webhook }) =>
      ({ deadLettersRemoved: await hooks().delete(webhook) })),

    listWebhookDeadLetters: unary<ListWebhookDeadLettersRequest, ListWebhookDeadLettersResponse>(deps, 'ListWebhookDeadLetters', 'ops', (req) => {
      const page = hooks().find(req.webhook).letters.list(parsePageToken(req.pageToken, 'ListWebhookDeadLetters'), checkLimit(req.limit));
      return {
        deadLetters: page.letters.map(({ letter, event }) => ({
          sequence: letter.sequence, eventId: letter.eventId, reason: letter.reason, message: letter.message, attempts: letter.attempts,
          firstFailedAt: toTimestamp(letter.firstFailedAt), lastFailedAt: toTimestamp(letter.lastFailedAt), event: event && toProtoEvent(event),
        })),
        nextPageToken: page.nextAfter === undefined ? '' : String(page.nextAfter),
        total: page.total,
      };
    }),

    redriveWebhookDeadLetters: unary<RedriveWebhookDeadLettersRequest, RedriveWebhookDeadLettersResponse>(deps, 'RedriveWebhookDeadLetters', 'ops', async (req) => {
      if (req.sequences.length > MAX_LIMIT) throw AppError.invalid('sequences', `has ${req.sequences.length} entries, the limit is ${MAX_LIMIT}`);
      const { letters } = hooks().find(req.webhook);
      const results = await letters.redrive(req.sequences, checkLimit(req.limit));
      return {
        results: results.map((r) => ({ sequence: r.sequence, eventId: r.eventId, outcome: OUTCOMES[r.outcome], reason: r.reason })),
        deliveredCount: results.filter((r) => r.outcome === 'delivered').length,
        remaining: letters.count(),
      };
    }),
  };
}

/** A webhook as the RPCs show it: never its secret, only the last 4 characters of it. */
export function webhookToProto({ record, effective, worker }: Running, limits: InputLimits): Webhook {
  const s = worker.status();
  return {
    id: record.id, name: record.name, url: record.url, filter: toProtoFilter(parseFilter(record.filter, limits)),
    secretHint: `****${record.secret.slice(-4)}`, paused: record.paused, pausedReason: record.pausedReason,
    batchSize: effective.batchSize, owner: record.owner, roles: [...record.roles], createdAt: toTimestamp(record.createdAt),
    declaredInConfig: record.declaredInConfig, timeoutMs: effective.timeoutMs, maxRetries: effective.maxRetries,
    status: {
      cursor: s.cursor, lag: s.lag, circuitState: s.circuit, sent: s.sent, failed: s.failed, deadLetters: s.deadLetters,
      deadLettered: s.deadLettered, lastError: s.lastError, lastSuccessAt: toOptionalTimestamp(s.lastSuccessAt),
    },
  };
}
