import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/load.js';
import { filterFromJson } from '../../contract/json-filter.js';
import type { InputLimits } from '../../contract/limits.js';
import { AppError } from '../../domain/errors.js';
import type { EventLog } from '../../domain/ports.js';
import { compileFilter } from '../../filtering/compiled-filter.js';
import type { Logger } from '../../observability/logger.js';
import type { WebhookRecord, WebhookStore } from '../../store/sqlite-webhooks.js';
import type { WebhooksConfig } from './config-schema.js';
import { filterText } from './runtime.js';

/** Why the server paused a configured webhook that the configuration no longer declares. */
export const REMOVED_FROM_CONFIG = 'no longer in the configuration';

/** A webhook of webhooks.endpoints, with its secret read and its filter checked. */
export interface Declared {
  readonly name: string;
  readonly url: string;
  readonly secret: string;
  /** The filter's canonical text (as stored). */
  readonly filter: string;
  readonly roles: readonly string[];
  readonly batchSize: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number | undefined;
  readonly replayHistory: boolean;
}

const problem = (key: string, message: string): ConfigError => new ConfigError(`invalid configuration:\n  ${key}: ${message}`);

/**
 * The configured webhooks, ready to store. What the config schema could not check without loading
 * generated code (the filter's type names, severities, times and CEL) is checked here, at start, with
 * the key named as the config loader names it. With security off and no roles, a webhook sees what
 * an admin sees (every caller is an admin then); with security on, the schema requires roles.
 */
export function declaredWebhooks(config: WebhooksConfig, limits: InputLimits, maxExpressionLength: number): Declared[] {
  return Object.entries(config.endpoints).map(([name, e]) => {
    const key = `webhooks.endpoints.${name}`;
    let secret = e.secret;
    if (secret === undefined && e.secret_file !== undefined) {
      try {
        secret = readFileSync(e.secret_file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw problem(`${key}.secret_file`, `cannot read ${e.secret_file}: ${(err as Error).message}`);
      }
      if (secret.length < 16) throw problem(`${key}.secret_file`, 'the secret in it must be at least 16 characters');
    }
    let filter;
    try {
      filter = filterFromJson(e.filter ?? {}, limits);
      compileFilter(filter, maxExpressionLength);
    } catch (err) {
      if (err instanceof AppError) throw problem(`${key}.${err.field ?? 'filter'}`, err.field ? err.message.slice(err.field.length + 2) : err.message);
      throw err;
    }
    return {
      name, url: e.url, secret: secret ?? '', filter: filterText(filter), roles: e.roles ?? ['admin'],
      batchSize: e.batch_size, timeoutMs: e.timeout, maxRetries: e.max_retries, replayHistory: e.replay_history,
    };
  });
}

/**
 * Brings the store in line with the configuration: a declared webhook missing from the store is
 * created (from the log's head, or its oldest event with replay_history), one that changed is
 * updated in place (its id, cursor, dead letters and paused state stay), and a configured webhook the
 * configuration no longer declares is paused, not deleted, so its dead letters are not lost without a
 * word (DeleteWebhook removes it then). A declared name taken by a webhook made with CreateWebhook
 * stops the start: which of the two was meant cannot be guessed.
 */
export function reconcile(store: WebhookStore, declared: readonly Declared[], deps: { readonly log: EventLog }, logger: Logger): void {
  const stored = new Map(store.list().map((r) => [r.name, r]));
  for (const d of declared) {
    const existing = stored.get(d.name);
    const definition = {
      url: d.url, secret: d.secret, filter: d.filter, roles: d.roles, batchSize: d.batchSize, timeoutMs: d.timeoutMs, maxRetries: d.maxRetries,
    };
    if (existing && !existing.declaredInConfig) {
      throw problem(`webhooks.endpoints.${d.name}`, `the name is taken by a webhook made with CreateWebhook (id ${existing.id}); rename one of them`);
    }
    if (!existing) {
      const record: WebhookRecord = {
        id: randomUUID(), name: d.name, ...definition, owner: 'config', paused: false, pausedReason: '', declaredInConfig: true, createdAt: new Date(),
      };
      store.insert(record, d.replayHistory ? deps.log.firstSequence() - 1 : deps.log.lastSequence());
      logger.info({ webhook: d.name, id: record.id }, 'configured webhook created');
      continue;
    }
    const changed = (Object.keys(definition) as Array<keyof typeof definition>)
      .filter((k) => JSON.stringify(existing[k]) !== JSON.stringify(definition[k]));
    const back = existing.paused && existing.pausedReason === REMOVED_FROM_CONFIG;
    if (changed.length === 0 && !back) continue;
    store.update({ ...existing, ...definition, ...(back ? { paused: false, pausedReason: '' } : {}) });
    logger.info({ webhook: d.name, changed, resumed: back }, 'configured webhook updated');
  }
  const names = new Set(declared.map((d) => d.name));
  for (const r of stored.values()) {
    if (!r.declaredInConfig || names.has(r.name) || r.pausedReason === REMOVED_FROM_CONFIG) continue;
    store.update({ ...r, paused: true, pausedReason: REMOVED_FROM_CONFIG });
    logger.warn({ webhook: r.name, id: r.id }, 'configured webhook no longer in the configuration: paused (DeleteWebhook removes it with its dead letters)');
  }
}
