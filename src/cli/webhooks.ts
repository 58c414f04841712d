import { readFileSync } from 'node:fs';
import {
  type CreateWebhookResponse, type DeleteWebhookResponse, type ListWebhookDeadLettersResponse, type ListWebhooksResponse,
  type PauseWebhookResponse, RedriveOutcome, redriveOutcomeToJSON, type RedriveWebhookDeadLettersResponse, type ResumeWebhookResponse,
  Webhook, WebhookDeadLetter,
} from '../../generated/audit/v1/audit_service.js';
import { call, connect, EXIT, UsageError } from './client.js';
import { letterLine, type ListFlags, printLetterPages, type RedriveFlags } from './dead-letters.js';
import { filterFromFlags } from './events.js';
import type { ConnectionFlags, FilterFlags } from './options.js';
import { note, out, outJson } from './output.js';

/** `auditstream webhooks [list]`: every webhook with its delivery status (--json: one line each). */
export async function listWebhooks(flags: ConnectionFlags): Promise<number> {
  return withClient(flags, async (client) => {
    const { webhooks } = await call<ListWebhooksResponse>((cb) => client.listWebhooks({}, cb));
    if (flags.json) {
      webhooks.forEach((w) => outJson(Webhook.toJSON(w)));
      return EXIT.OK;
    }
    if (webhooks.length === 0) {
      out('no webhooks');
      return EXIT.OK;
    }
    const rows = [['NAME', 'ID', 'STATE', 'CIRCUIT', 'SENT', 'FAILED', 'LAG', 'DEAD', 'URL'], ...webhooks.map((w) => [
      w.name, w.id, w.paused ? 'paused' : 'active', w.status?.circuitState ?? '-', w.status?.sent ?? 0, w.status?.failed ?? 0,
      w.status?.lag ?? 0, w.status?.deadLetters ?? 0, w.url,
    ].map(String))];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
    for (const r of rows) out(r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
    for (const w of webhooks.filter((x) => x.paused)) note(`${w.name}: ${w.pausedReason}`);
    return EXIT.OK;
  });
}

export interface CreateFlags extends ConnectionFlags, FilterFlags {
  readonly secret?: string | undefined;
  readonly secretFile?: string | undefined;
  readonly batchSize?: number | undefined;
  readonly role: string[];
  readonly replayHistory: boolean;
}

/**
 * `auditstream webhooks create NAME URL [filters]`: without --secret or --secret-file the server draws
 * a secret; it is printed this once (stdout), so it can be piped into a secrets store.
 */
export async function createWebhook(name: string, url: string, flags: CreateFlags): Promise<number> {
  if (flags.secret !== undefined && flags.secretFile !== undefined) throw new UsageError('webhooks create: give --secret or --secret-file, not both');
  let secret = flags.secret ?? '';
  if (flags.secretFile !== undefined) {
    try {
      secret = readFileSync(flags.secretFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`webhooks create: cannot read --secret-file ${flags.secretFile}: ${(err as Error).message}`);
    }
  }
  const request = {
    name, url, secret, filter: filterFromFlags(flags), batchSize: flags.batchSize ?? 0, roles: flags.role, replayHistory: flags.replayHistory,
  };
  return withClient(flags, async (client) => {
    const r = await call<CreateWebhookResponse>((cb) => client.createWebhook(request, cb));
    if (flags.json) outJson({ webhook: r.webhook && Webhook.toJSON(r.webhook), ...(r.secret ? { secret: r.secret } : {}) });
    else {
      out(`created ${r.webhook?.name ?? name}  ${r.webhook?.id ?? ''}`);
      if (r.secret) out(`secret: ${r.secret}`);
    }
    if (r.secret) note('the secret is shown this once: store it now (the server keeps it, but never returns it)');
    return EXIT.OK;
  });
}

/** `auditstream webhooks pause|resume|delete NAME`. */
export async function changeWebhook(action: 'pause' | 'resume' | 'delete', ref: string, flags: ConnectionFlags): Promise<number> {
  if (ref.trim() === '') throw new UsageError('expected a webhook name or id (see `auditstream webhooks`)');
  return withClient(flags, async (client) => {
    if (action === 'delete') {
      const r = await call<DeleteWebhookResponse>((cb) => client.deleteWebhook({ webhook: ref }, cb));
      if (flags.json) outJson({ deleted: ref, deadLettersRemoved: r.deadLettersRemoved });
      else out(`deleted ${ref}${r.deadLettersRemoved > 0 ? ` (and its ${r.deadLettersRemoved} dead letters)` : ''}`);
      return EXIT.OK;
    }
    const r = action === 'pause'
      ? await call<PauseWebhookResponse>((cb) => client.pauseWebhook({ webhook: ref }, cb))
      : await call<ResumeWebhookResponse>((cb) => client.resumeWebhook({ webhook: ref }, cb));
    if (flags.json) outJson(r.webhook && Webhook.toJSON(r.webhook));
    else out(`${r.webhook?.name ?? ref} ${r.webhook?.paused ? 'paused' : 'active'}`);
    return EXIT.OK;
  });
}

/** `auditstream webhooks dead-letters NAME`: what its endpoint refused until the retries ran out. */
export async function listWebhookDeadLetters(ref: string, flags: ListFlags): Promise<number> {
  return withClient(flags, (client) => printLetterPages(
    flags,
    (pageToken) => call<ListWebhookDeadLettersResponse>((cb) => client.listWebhookDeadLetters({ webhook: ref, limit: flags.limit ?? 0, pageToken }, cb)),
    (l) => (flags.json ? outJson(WebhookDeadLetter.toJSON(l)) : out(letterLine(l))),
  ));
}

/** `auditstream webhooks redrive NAME SEQ... | --all`: exit 1 when any letter was not delivered. */
export async function redriveWebhook(ref: string, sequences: string[], flags: RedriveFlags): Promise<number> {
  if (sequences.length === 0 && !flags.all) throw new UsageError('webhooks redrive: give the sequences to redrive, or --all');
  if (sequences.length > 0 && flags.all) throw new UsageError('webhooks redrive: give sequences or --all, not both');
  const bad = sequences.find((s) => !/^\d+$/.test(s));
  if (bad !== undefined) throw new UsageError(`webhooks redrive: "${bad}" is not a sequence number`);
  return withClient(flags, async (client) => {
    const r = await call<RedriveWebhookDeadLettersResponse>((cb) =>
      client.redriveWebhookDeadLetters({ webhook: ref, sequences: sequences.map(Number), limit: flags.limit ?? 0 }, cb));
    for (const result of r.results) {
      const outcome = redriveOutcomeToJSON(result.outcome).replace('REDRIVE_OUTCOME_', '');
      if (flags.json) outJson({ sequence: result.sequence, eventId: result.eventId, outcome, reason: result.reason });
      else out([result.sequence, outcome, result.eventId || '-', result.reason].join('  ').trimEnd());
    }
    note(`delivered ${r.deliveredCount} of ${r.results.length}; ${r.remaining} dead letters remain`);
    return r.results.every((x) => x.outcome === RedriveOutcome.REDRIVE_OUTCOME_DELIVERED) ? EXIT.OK : EXIT.FAILED;
  });
}

async function withClient(flags: ConnectionFlags, run: (client: ReturnType<typeof connect>) => Promise<number>): Promise<number> {
  const client = connect(flags);
  try {
    return await run(client);
  } finally {
    client.close();
  }
}
