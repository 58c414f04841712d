import { createInterface } from 'node:readline';
import type { PublishBatchResponse, PublishResponse } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { call, connect, EXIT, UsageError } from './client.js';
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

const CHUNK = 500;
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
 * `auditstream publish`: one event from flags (with --type), or JSON lines on stdin, sent with
 * PublishBatch in chunks. Prints one line per stored event (sequence and id; with --json one JSON
 * line per input line, stored or not) to stdout, problems to stderr, and a summary. Exits 1 when any
 * line was refused (nothing of that line is stored), 2 when there was nothing to publish.
 */
export async function publishCommand(flags: PublishFlags): Promise<number> {
  if (flags.type === undefined) {
    const stray = EVENT_FLAGS.filter((k) => flags[k] !== undefined);
    if (stray.length > 0) throw new UsageError(`publish: one event from flags needs --type (given: ${stray.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')})`);
    if (process.stdin.isTTY) throw new UsageError('publish: nothing to publish: give --type for one event, or JSON lines on stdin');
  }
  const event = flags.type === undefined ? undefined : eventFromFlags(flags);
  const client = connect(flags);
  try {
    if (event) {
      const ack = await call<PublishResponse>((cb) => client.publish({ event }, cb));
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

async function publishLines(client: ReturnType<typeof connect>, json: boolean): Promise<number> {
  const totals = { stored: 0, duplicates: 0, rejected: 0 };
  let chunk: AuditEvent[] = [];
  let chunkLines: number[] = [];
  let results: LineResult[] = [];
  let line = 0;
  let given = 0;
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
  const flush = async (): Promise<void> => {
    if (chunk.length > 0) {
      const res = await call<PublishBatchResponse>((cb) => client.publishBatch({ events: chunk }, cb));
      res.results.forEach((r, i) => {
        if (r.outcome?.$case === 'stored') {
          results.push({ line: chunkLines[i], sequence: r.outcome.stored.sequence, eventId: r.eventId, duplicate: r.outcome.stored.duplicate });
        } else if (r.outcome?.$case === 'error') {
          // The server names the field by its place in the batch; the line number says that here.
          results.push({ line: chunkLines[i], error: r.outcome.error.message.replace(/^events\[\d+\]\./, '') });
        }
      });
    }
    results.sort((a, b) => a.line - b.line).forEach(report);
    [chunk, chunkLines, results] = [[], [], []];
  };
  for await (const text of createInterface({ input: process.stdin })) {
    line++;
    if (text.trim() === '') continue;
    given++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      results.push({ line, error: 'not valid JSON' });
      continue;
    }
    try {
      chunk.push(eventFromJson(parsed, `line ${line}`));
      chunkLines.push(line);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      results.push({ line, error: err.message.replace(/^line \d+: /, '') });
      continue;
    }
    if (chunk.length === CHUNK) await flush();
  }
  await flush();
  if (given === 0) throw new UsageError('publish: nothing to publish (stdin was empty; give --type for one event from flags)');
  note(`published ${totals.stored}, duplicates ${totals.duplicates}, rejected ${totals.rejected}`);
  return totals.rejected > 0 ? EXIT.FAILED : EXIT.OK;
}
