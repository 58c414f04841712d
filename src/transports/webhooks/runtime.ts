import { Filter as ProtoFilter } from '../../../generated/audit/v1/audit_service.js';
import { toProtoFilter } from '../../contract/filter-mapping.js';
import { filterFromJson } from '../../contract/json-filter.js';
import type { InputLimits } from '../../contract/limits.js';
import type { Filter } from '../../domain/filter.js';
import type { EventLog } from '../../domain/ports.js';
import type { FilterBudget } from '../../filtering/cpu-budget.js';
import type { Logger } from '../../observability/logger.js';
import { Permissions } from '../../security/roles.js';
import type { Security } from '../../security/security.js';
import type { WebhookRecord, WebhookStore } from '../../store/sqlite-webhooks.js';
import type { WebhooksConfig } from './config-schema.js';
import { WebhookDeadLetters } from './dead-letters.js';
import { WebhookPolicy } from './policy.js';
import { Selector } from './selector.js';
import { WebhookWorker } from './worker.js';

/** What building a webhook's worker needs from the composition root. */
export interface RuntimeDeps {
  readonly log: EventLog;
  readonly store: WebhookStore;
  readonly security: Security;
  readonly defaults: WebhooksConfig['defaults'];
  readonly limits: InputLimits;
  readonly maxExpressionLength: number;
  readonly filterBudget: FilterBudget;
  readonly logger: Logger;
}

/** The settings a webhook runs with: its own where it has them, else webhooks.defaults. */
export interface Effective {
  readonly batchSize: number;
  readonly timeoutMs: number;
  readonly maxRetries: number;
}

/** A webhook that runs: its definition, its worker and its dead letters. */
export interface Running {
  readonly record: WebhookRecord;
  readonly effective: Effective;
  readonly worker: WebhookWorker;
  readonly letters: WebhookDeadLetters;
}

export function effective(record: WebhookRecord, defaults: WebhooksConfig['defaults']): Effective {
  return {
    batchSize: record.batchSize ?? defaults.batch_size,
    timeoutMs: record.timeoutMs ?? defaults.timeout,
    maxRetries: record.maxRetries ?? defaults.max_retries,
  };
}

/** The filter as stored: its proto JSON text, which filterFromJson reads back. */
export function filterText(filter: Filter): string {
  return JSON.stringify(ProtoFilter.toJSON(toProtoFilter(filter)));
}

/** The stored filter text back as a filter; INVALID_ARGUMENT naming filter.<field> when it is not one. */
export function parseFilter(text: string, limits: InputLimits): Filter {
  return filterFromJson(JSON.parse(text) as unknown, limits);
}

/**
 * Builds what delivers one webhook: the owner's viewer (the Permissions of its stored roles, so its
 * view is the one it was created with, whatever tokens say later), the selector, a policy of its own,
 * the worker and its dead letters. Throws INVALID_ARGUMENT for a filter that does not compile.
 */
export function buildRuntime(record: WebhookRecord, deps: RuntimeDeps, onHalt: (reason: string) => void): Running {
  const settings = effective(record, deps.defaults);
  const viewer = deps.security.viewer(new Permissions({ subject: record.owner, roles: record.roles, scopes: [] }));
  const selector = new Selector(parseFilter(record.filter, deps.limits), viewer, deps.maxExpressionLength, deps.filterBudget);
  const d = deps.defaults;
  const policy = new WebhookPolicy({
    maxRetries: settings.maxRetries, retryDelayMs: d.retry_delay, retryBackoffMs: d.retry_backoff, timeoutMs: settings.timeoutMs,
    breakerThreshold: d.circuit_breaker.threshold, halfOpenAfterMs: d.circuit_breaker.half_open_after,
  });
  const deadLetters = deps.store.deadLetters(record.id);
  const logger = deps.logger.child({ webhook: record.name, downstream: `webhook:${record.name}` });
  const worker = new WebhookWorker({
    id: record.id, url: record.url, secret: record.secret, log: deps.log, cursor: deps.store.cursor(record.id), deadLetters,
    policy, selector, logger, batchSize: settings.batchSize, lingerMs: d.linger, onHalt,
  });
  return { record, effective: settings, worker, letters: new WebhookDeadLetters(deadLetters, deps.log, worker, selector, settings.batchSize, logger) };
}
