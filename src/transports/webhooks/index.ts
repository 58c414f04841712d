import { randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '../../domain/errors.js';
import type { Filter } from '../../domain/filter.js';
import type { DownstreamStatus } from '../../domain/ports.js';
import type { Permissions } from '../../security/roles.js';
import type { WebhookRecord, WebhookStore } from '../../store/sqlite-webhooks.js';
import { MAX_BATCH_SIZE, MAX_SECRET, MIN_SECRET, unknownRoles, urlProblem, WEBHOOK_NAME } from './config-schema.js';
import type { WebhooksConfig } from './config-schema.js';
import { type Declared, declaredWebhooks, reconcile, REMOVED_FROM_CONFIG } from './config-sync.js';
import { buildRuntime, filterText, type Running, type RuntimeDeps } from './runtime.js';

export type { Running } from './runtime.js';

/** CreateWebhook's request, with its filter already checked. */
export interface WebhookInput {
  readonly name: string;
  readonly url: string;
  readonly filter: Filter;
  /** Empty: the server draws one. */
  readonly secret: string;
  /** 0: webhooks.defaults.batch_size. */
  readonly batchSize: number;
  /** Empty: the creator's roles. */
  readonly roles: readonly string[];
  readonly replayHistory: boolean;
}

/**
 * Every webhook of this server: made by RPC or declared in the configuration, kept in the store
 * (the SQLite log's database, or memory), each delivered by its own worker. The dispatcher only wakes
 * the workers; nothing here is awaited on the publish path.
 */
export class Webhooks {
  private readonly running = new Map<string, Running>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: RuntimeDeps & { readonly onStored: (listener: () => void) => () => void }) {}

  /** Brings the configured webhooks into the store, then starts every webhook that is not paused. */
  start(declared: readonly Declared[]): void {
    reconcile(this.deps.store, declared, this.deps, this.deps.logger);
    for (const record of this.deps.store.list()) this.run(record);
    this.unsubscribe = this.deps.onStored(() => {
      for (const r of this.running.values()) r.worker.wake();
    });
    this.deps.logger.info({ webhooks: this.running.size }, 'webhooks started');
  }

  async stop(timeoutMs: number): Promise<void> {
    this.unsubscribe?.();
    await Promise.all([...this.running.values()].map((r) => r.worker.stop(timeoutMs)));
  }

  list(): Running[] {
    return [...this.running.values()].sort((a, b) => (a.record.name < b.record.name ? -1 : 1));
  }

  /** By id, or by name; NOT_FOUND otherwise. */
  find(ref: string): Running {
    const found = this.running.get(ref) ?? this.list().find((r) => r.record.name === ref);
    if (!found) throw new AppError('NOT_FOUND', `no webhook has the id or name ${JSON.stringify(ref.slice(0, 100))}`, 'webhook');
    return found;
  }

  /** Creates and starts a webhook owned by `caller`; returns it, with the secret when the server drew it. */
  create(input: WebhookInput, caller: Permissions): { webhook: Running; drawnSecret: string } {
    checkInput(input);
    const drawnSecret = input.secret === '' ? `whsec_${randomBytes(32).toString('base64url')}` : '';
    const record: WebhookRecord = {
      id: randomUUID(), name: input.name, url: input.url, secret: input.secret || drawnSecret, filter: filterText(input.filter),
      batchSize: input.batchSize || undefined, timeoutMs: undefined, maxRetries: undefined,
      owner: caller.identity.subject, roles: input.roles.length > 0 ? [...input.roles] : [...caller.identity.roles],
      paused: false, pausedReason: '', declaredInConfig: false, createdAt: new Date(),
    };
    // Built before it is stored: a filter that does not compile is refused with nothing kept.
    buildRuntime(record, this.deps, () => undefined);
    const { log } = this.deps;
    this.deps.store.insert(record, input.replayHistory ? log.firstSequence() - 1 : log.lastSequence());
    this.deps.logger.info({ webhook: record.name, id: record.id, owner: record.owner, roles: record.roles }, 'webhook created');
    return { webhook: this.run(record), drawnSecret };
  }

  pause(ref: string, reason: string): Running {
    const current = this.find(ref);
    current.worker.pause();
    return this.replace(current, { paused: true, pausedReason: reason });
  }

  resume(ref: string): Running {
    const current = this.find(ref);
    if (!current.record.paused) return current;
    // Rebuilt: a webhook the server paused for its filter's cost gets a fresh filter.
    return this.replace(current, { paused: false, pausedReason: '' }, true);
  }

  /** Removes the webhook, its cursor and its dead letters; returns how many dead letters went. */
  async delete(ref: string): Promise<number> {
    const current = this.find(ref);
    if (current.record.declaredInConfig && current.record.pausedReason !== REMOVED_FROM_CONFIG) {
      throw new AppError('FAILED_PRECONDITION', `webhook ${current.record.name} is declared in the configuration (webhooks.endpoints): remove it there, then restart`);
    }
    this.running.delete(current.record.id);
    await current.worker.stop(0);
    this.deps.logger.info({ webhook: current.record.name, id: current.record.id }, 'webhook deleted');
    return this.deps.store.remove(current.record.id);
  }

  /** Each webhook as a downstream: auditstream_circuit_state{downstream="webhook:<name>"}, lag, dead letters, /readyz. */
  downstreams(): DownstreamStatus[] {
    return this.list().map(({ record, worker }) => {
      const s = worker.status();
      return { name: `webhook:${record.name}`, circuit: s.circuit, lag: s.lag, deadLetters: s.deadLetters };
    });
  }

  private run(record: WebhookRecord): Running {
    const running = buildRuntime(record, this.deps, (reason) => {
      this.deps.logger.error({ webhook: record.name, reason }, 'webhook paused: its filter cannot judge an event');
      this.pause(record.id, reason);
    });
    this.running.set(record.id, running);
    // Paused in the store: paused here too, or the dispatcher's next wake would start it.
    if (record.paused) running.worker.pause();
    else running.worker.wake();
    return running;
  }

  private replace(current: Running, change: Partial<WebhookRecord>, rebuild = false): Running {
    const record = { ...current.record, ...change };
    this.deps.store.update(record);
    if (!rebuild) {
      const next = { ...current, record };
      this.running.set(record.id, next);
      return next;
    }
    void current.worker.stop(0);
    return this.run(record);
  }
}

function checkInput(input: WebhookInput): void {
  if (!WEBHOOK_NAME.test(input.name)) throw AppError.invalid('name', 'must be 1 to 100 letters, digits, ".", "_" or "-"');
  const problem = urlProblem(input.url);
  if (problem) throw AppError.invalid('url', problem);
  if (input.secret !== '' && (input.secret.length < MIN_SECRET || input.secret.length > MAX_SECRET)) {
    throw AppError.invalid('secret', `must be ${MIN_SECRET} to ${MAX_SECRET} characters (or empty: the server draws one)`);
  }
  if (input.batchSize > MAX_BATCH_SIZE) throw AppError.invalid('batch_size', `is ${input.batchSize}, the most is ${MAX_BATCH_SIZE}`);
  const unknown = unknownRoles(input.roles);
  if (unknown.length > 0) {
    throw AppError.invalid(`roles[${input.roles.indexOf(unknown[0] ?? '')}]`, `unknown role ${JSON.stringify(unknown[0])}; roles: admin, publisher, security, compliance, operator, auditor`);
  }
}

/**
 * The composition root's entry: checks the configured webhooks (secret files, filters), creates the
 * manager over `store` (absent in cluster mode: no webhooks) and starts it. Throws a ConfigError
 * naming the key when a configured webhook is wrong.
 */
export function startWebhooks(
  config: WebhooksConfig,
  store: WebhookStore | undefined,
  deps: Omit<ConstructorParameters<typeof Webhooks>[0], 'store' | 'defaults'>,
): Webhooks | undefined {
  if (!store) return undefined;
  const declared = declaredWebhooks(config, deps.limits, deps.maxExpressionLength);
  const webhooks = new Webhooks({ ...deps, store, defaults: config.defaults });
  webhooks.start(declared);
  return webhooks;
}
