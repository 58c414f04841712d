import { createInterface } from 'node:readline';
import type { PublishBatchResponse, PublishResponse } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { call, connect, EXIT, UsageError } from './client.js';
import { eventFromJson } from './event-json.js';

export interface PublishFlags {
  readonly server: string;
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
 * PublishBatch in chunks. Prints one line per stored event (sequence and id) to stdout, problems to
 * stderr, and a summary. Exits 1 when any event was rejected.
 */
export async function publishCommand(flags: PublishFlags): Promise<number> {
  const client = connect(flags.server);
  try {
    if (flags.type !== undefined) {
      const ack = await call<PublishResponse>((cb) => client.publish({ event: eventFromFlags(flags) }, cb));
      console.log(`${ack.sequence}\t${ack.eventId}${ack.duplicate ? '\tduplicate' : ''}`);
      return EXIT.OK;
    }
    if (process.stdin.isTTY) throw new UsageError('give --type for one event, or JSON lines on stdin');
    const totals = { stored: 0, duplicates: 0, rejected: 0 };
    let chunk: AuditEvent[] = [];
    let chunkLines: number[] = [];
    let line = 0;
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const res = await call<PublishBatchResponse>((cb) => client.publishBatch({ events: chunk }, cb));
      res.results.forEach((r, i) => {
        if (r.outcome?.$case === 'stored') {
          console.log(`${r.outcome.stored.sequence}\t${r.eventId}${r.outcome.stored.duplicate ? '\tduplicate' : ''}`);
          totals[r.outcome.stored.duplicate ? 'duplicates' : 'stored']++;
        } else if (r.outcome?.$case === 'error') {
          // The server names the field by its place in the batch; the line number says that here.
          console.error(`line ${chunkLines[i]}: ${r.outcome.error.message.replace(/^events\[\d+\]\./, '')}`);
          totals.rejected++;
        }
      });
      chunk = [];
      chunkLines = [];
    };
    for await (const text of createInterface({ input: process.stdin })) {
      line++;
      if (text.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        console.error(`line ${line}: not valid JSON`);
        totals.rejected++;
        continue;
      }
      try {
        chunk.push(eventFromJson(json, `line ${line}`));
        chunkLines.push(line);
      } catch (err) {
        console.error((err as Error).message);
        totals.rejected++;
        continue;
      }
      if (chunk.length === CHUNK) await flush();
    }
    await flush();
    console.error(`published ${totals.stored}, duplicates ${totals.duplicates}, rejected ${totals.rejected}`);
    return totals.rejected > 0 ? EXIT.FAILED : EXIT.OK;
  } finally {
    client.close();
  }
}
