import path from 'node:path';
import { z } from 'zod';
import { Permissions } from '../../security/roles.js';

// The `webhooks:` section of the configuration (README, "Webhooks"). Defined here, beside the code that
// uses it, and built by a function: the config schema passes its own duration/count/flag parsers in,
// so there is one way to write a duration and no import cycle back into schema.ts (schema.ts calls
// this while it is evaluated, so this module must not import anything that imports schema.ts).
//
// This module must stay free of generated code and grpc-js: the config is parsed before telemetry
// starts, and grpc-js must not load before that. So a filter's shape (keys and value types) is checked
// here, and its values (type names, CEL) when the server starts (config-sync.ts), naming the key.

/** Letters, digits, ".", "_", "-": a webhook's name labels its metrics and names it in the CLI. */
export const WEBHOOK_NAME = /^[a-zA-Z0-9._-]{1,100}$/;
export const MAX_BATCH_SIZE = 1_000;
export const MIN_SECRET = 16;
export const MAX_SECRET = 512;

export interface SchemaParts {
  readonly duration: z.ZodType<number, unknown>;
  readonly count: z.ZodType<number, unknown>;
  readonly flag: z.ZodType<boolean, unknown>;
  readonly retryCount: z.ZodType<number, unknown>;
  /** The key a typo most likely meant (config/keys.ts), passed in: importing it would close a cycle back to schema.ts. */
  readonly closest: (word: string, candidates: readonly string[]) => string | undefined;
}

/** An http(s) URL without credentials (fetch refuses those, and they would sit in the config in clear). */
export function urlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text.slice(0, 100))} is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be http or https, not ${url.protocol.slice(0, -1)}`;
  if (url.username || url.password) return 'must not carry credentials (user:password@): the request is signed instead';
  if (text.length > 2048) return 'is longer than 2048 characters';
  return undefined;
}

/** Role names the roles table does not know (each would silently grant nothing). */
export function unknownRoles(roles: readonly string[]): string[] {
  const unknown: string[] = [];
  void new Permissions({ subject: '', roles, scopes: [] }, (name) => unknown.push(name));
  return unknown;
}

/**
 * An object schema whose unknown keys are named with what is valid here. The config loader can only
 * suggest keys of the fixed sections; inside the endpoints map it would list the top-level keys.
 */
function known<T extends z.ZodObject>(schema: T, closest: SchemaParts['closest']) {
  const keys = Object.keys(schema.shape);
  return z.preprocess((value, ctx) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const kept: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (keys.includes(key)) kept[key] = v;
      else {
        const near = closest(key, keys);
        ctx.addIssue({ code: 'custom', path: [key], message: near ? `unknown key; did you mean ${near}?` : `unknown key (valid here: ${keys.join(', ')})` });
      }
    }
    return kept;
  }, schema);
}

export function webhooksSchema({ duration, count, flag, retryCount, closest }: SchemaParts) {
  const batchSize = count.refine((n) => n <= MAX_BATCH_SIZE, `must be at most ${MAX_BATCH_SIZE}`);
  const strings = z.array(z.string());
  const enums = z.array(z.union([z.string(), z.number()]));
  // The filter as Subscribe takes it in JSON (snake_case or the proto JSON names); values checked at start.
  const filter = known(z.strictObject({
    event_types: enums.optional(), eventTypes: enums.optional(),
    categories: strings.optional(),
    severities: enums.optional(),
    min_severity: z.union([z.string(), z.number()]).optional(), minSeverity: z.union([z.string(), z.number()]).optional(),
    entity_types: strings.optional(), entityTypes: strings.optional(),
    entity_ids: strings.optional(), entityIds: strings.optional(),
    user_ids: strings.optional(), userIds: strings.optional(),
    time_range: known(z.strictObject({ start: z.string().optional(), end: z.string().optional() }), closest).optional(),
    expression: z.string().optional(),
  }), closest);
  const endpoint = known(z.strictObject({
    url: z.string().superRefine((text, ctx) => {
      const problem = urlProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    /** The signing key (usually ${VAR}); or secret_file. */
    secret: z.string().optional(),
    /** A file holding the key (trailing newline ignored). Absolute: paths inside this map are not resolved against the config's folder. */
    secret_file: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path').optional(),
    filter: filter.optional(),
    /** Whose view it delivers (visibility, redaction); required with security on. */
    roles: strings.optional(),
    batch_size: batchSize.optional(),
    timeout: duration.refine((ms) => ms > 0, 'must be more than 0').optional(),
    max_retries: retryCount.optional(),
    /** Only when the webhook is first created: deliver the history the log holds first. */
    replay_history: flag.default(false),
  }).superRefine((e, ctx) => {
    if ((e.secret === undefined) === (e.secret_file === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs secret or secret_file (one of them)' });
    }
    // Not on the secret key itself: the loader never repeats a secret's value, nor its length problem's input.
    if (e.secret !== undefined && (e.secret.length < MIN_SECRET || e.secret.length > MAX_SECRET)) {
      ctx.addIssue({ code: 'custom', message: `secret must be ${MIN_SECRET} to ${MAX_SECRET} characters (the value is not shown)` });
    }
    const unknown = unknownRoles(e.roles ?? []);
    if (unknown.length > 0) ctx.addIssue({ code: 'custom', path: ['roles'], message: `unknown role ${JSON.stringify(unknown[0])}; roles: admin, publisher, security, compliance, operator, auditor` });
  }), closest);
  return z.strictObject({
    /** For every webhook, those created by RPC too; an endpoint's own batch_size, timeout, max_retries win. */
    defaults: z.strictObject({
      batch_size: batchSize.default(100),
      /** After a quiet spell, wait this long for more events so a trickle still makes batches. */
      linger: duration.default(20),
      /** One POST, connection to answer; then it counts as failed (retried, counted by the breaker). */
      timeout: duration.refine((ms) => ms > 0, 'must be more than 0').default(10_000),
      /** Retries of a failed batch; then its events become dead letters and the webhook moves on. */
      max_retries: retryCount.default(15),
      /** The first retry's delay; later ones grow exponentially (with jitter) up to retry_backoff. */
      retry_delay: duration.default(1_000),
      retry_backoff: duration.default(600_000),
      circuit_breaker: z.strictObject({
        threshold: count.default(5),
        half_open_after: duration.default(30_000),
      }).prefault({}),
    }).prefault({}),
    /** Declared webhooks by name: created at start when missing, updated when changed. */
    endpoints: z.record(z.string().regex(WEBHOOK_NAME), endpoint, {
      error: (issue) => (issue.code === 'invalid_key' ? 'is not a webhook name: 1 to 100 letters, digits, ".", "_" or "-"' : undefined),
    }).default({}),
  });
}

type Webhooks = z.output<ReturnType<typeof webhooksSchema>>;

/** Checks that need the rest of the configuration; `ctx` is the root schema's. */
export function checkWebhooks(c: { webhooks: Webhooks; storage: { type: string }; security: { enabled: boolean } }, ctx: z.RefinementCtx): void {
  const names = Object.keys(c.webhooks.endpoints);
  if (names.length > 0 && c.storage.type === 'kafka') {
    ctx.addIssue({ code: 'custom', path: ['webhooks', 'endpoints'], message: 'webhooks need storage.type sqlite or memory: in cluster mode every node would deliver every event' });
  }
  if (!c.security.enabled) return;
  for (const name of names) {
    if (c.webhooks.endpoints[name]?.roles === undefined) {
      ctx.addIssue({ code: 'custom', path: ['webhooks', 'endpoints', name, 'roles'], message: 'is required with security on: the roles whose view this webhook delivers (visibility and redaction)' });
    }
  }
}

export type WebhooksConfig = Webhooks;
export type WebhookEndpointConfig = Webhooks['endpoints'][string];
