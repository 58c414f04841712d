import { createInterface } from 'node:readline';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { AuditStreamError, type AuditStreamClient, type BatchingPublisher, createClient } from '../client/index.js';
import { connectionOptions, EXIT, UsageError } from './client.js';
import { eventFromJson } from './event-json.js';
import type { ConnectionFlags } from './options.js';
import { note, out, outJson } from './output.js';

export interface PublishFlags extends ConnectionFlags {
  readonly type?: string;
  readonly severity?: string;
  readonly user?: string;
  readonly entityType?: string;
  readonly entityId?: string;
  readonly action?: string;
  readonly result?: string;
  readonly metadata?: string;
  readonly id?: string;
  readonly correlationId?: string;
  readonly source?: string;
}

/** Events per PublishBatch call; also how many lines are reported at a time. */
const CHUNK = 500;
/** Retries of a publish the server refused for now (rate limit, full queue) or could not take (unreachable). */
const RETRY = { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 2_000 };
const EVENT_FLAGS = ['severity', 'user', 'entityType', 'entityId', 'action', 'result', 'metadata', 'id', 'correlationId', 'source'] as const;

/** The event given by flags. */
function eventFromFlags(f: PublishFlags): AuditEvent {
  let metadata: unknown;
  if (f.metadata !== undefined) {
    try {
      metadata = JSON.parse(f.metadata);
    } catch {
      throw new UsageError('--metadata: not valid JSON');
    }
  }
  return eventFromJson({
    id: f.id, type: f.type, severity: f.severity, user_id: f.user, entity_type: f.entityType, entity_id: f.entityId,
    action: f.action, result: f.result, metadata, correlation_id: f.correlationId, source: f.source,
  }, 'flags');
}

/**
 * `auditstream publish`: one event from flags (with --type), or JSON lines on stdin, sent through the
 * client library's batching publisher (in order, up to 500 events per PublishBatch call, what the
 * server refuses for now retried). Prints one line per stored event (sequence and id; with --json one
 * JSON line per input line, stored or not) to stdout, problems to stderr, and a summary. Exits 1 when
 * any line was refused (nothing of that line is stored), 2 when there was nothing to publish.
 */
export async function publishCommand(flags: PublishFlags): Promise<number> {
  if (flags.type === undefined) {
    const stray = EVENT_FLAGS.filter((k) => flags[k] !== undefined);
    if (stray.length > 0) throw new UsageError(`publish: one event from flags needs --type (given: ${stray.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')})`);
    if (process.stdin.isTTY) throw new UsageError('publish: nothing to publish: give --type for one event, or JSON lines on stdin');
  }
  const event = flags.type === undefined ? undefined : eventFromFlags(flags);
  const client = createClient({ ...connectionOptions(flags), retry: RETRY });
  try {
    if (event) {
      const ack = await client.publish(event);
      if (flags.json) outJson({ sequence: ack.sequence, eventId: ack.eventId, duplicate: ack.duplicate, cursor: ack.cursor });
      else out(`${ack.sequence}\t${ack.eventId}${ack.duplicate ? '\tduplicate' : ''}`);
      return EXIT.OK;
    }
    return await publishLines(client, flags.json);
  } finally {
    client.close();
  }
}

/** What became of one input line, reported in line order. */
type LineResult = { line: number; error: string } | { line: number; sequence: number; eventId: string; duplicate: boolean };

/**
 * What becomes of one line: refused here (not JSON, not an event), refused by the server on its own
 * (the error names the field as a single Publish would: `event.action`, reported without `event.`),
 * or stored. A failure of the whole call (UNAUTHENTICATED, unreachable) rejects: the command fails.
 */
function publishLine(publisher: BatchingPublisher, line: number, text: string): Promise<LineResult> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return Promise.resolve({ line, error: 'not valid JSON' });
  }
  let event: AuditEvent;
  try {
    event = eventFromJson(parsed, `line ${line}`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return Promise.resolve({ line, error: err.message.replace(/^line \d+: /, '') });
  }
  return publisher.publish(event).then(
    (ack) => ({ line, sequence: ack.sequence, eventId: ack.eventId, duplicate: ack.duplicate }),
    (err: unknown) => {
      if (err instanceof AuditStreamError && err.eventId !== undefined) return { line, error: err.details.replace(/^event\./, '') };
      throw err;
    },
  );
}

async function publishLines(client: AuditStreamClient, json: boolean): Promise<number> {
  const totals = { stored: 0, duplicates: 0, rejected: 0 };
  const publisher = client.batchingPublisher({ maxBatch: CHUNK, lingerMs: 10, retry: RETRY });
  const report = (r: LineResult): void => {
    if ('error' in r) {
      note(`line ${r.line}: ${r.error}`);
      totals.rejected++;
    } else {
      totals[r.duplicate ? 'duplicates' : 'stored']++;
      if (!json) out(`${r.sequence}\t${r.eventId}${r.duplicate ? '\tduplicate' : ''}`);
    }
    if (json) outJson(r);
  };
  // Outcomes in line order; the oldest are reported once two chunks wait, so memory stays bounded.
  const outcomes: Promise<LineResult>[] = [];
  const reportOldest = async (count: number): Promise<void> => {
    for (const r of await Promise.all(outcomes.splice(0, count))) report(r);
  };
  let line = 0;
  let given = 0;
  for await (const text of createInterface({ input: process.stdin })) {
    line++;
    if (text.trim() === '') continue;
    given++;
    const outcome = publishLine(publisher, line, text);
    outcome.catch(() => undefined); // awaited in order below; a failed call must not also surface as unhandled
    outcomes.push(outcome);
    if (outcomes.length >= 2 * CHUNK) await reportOldest(CHUNK);
  }
  await publisher.close();
  await reportOldest(outcomes.length);
  if (given === 0) throw new UsageError('publish: nothing to publish (stdin was empty; give --type for one event from flags)');
  note(`published ${totals.stored}, duplicates ${totals.duplicates}, rejected ${totals.rejected}`);
  return totals.rejected > 0 ? EXIT.FAILED : EXIT.OK;
}
