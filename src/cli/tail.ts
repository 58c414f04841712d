import { status, type ServiceError } from '@grpc/grpc-js';
import type { Filter, GetStatsResponse, SubscribeResponse } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType, eventTypeToJSON, resultToJSON, Severity, severityToJSON } from '../../generated/audit/v1/event.js';
import { call, connect, EXIT, parseTime, UsageError } from './client.js';
import { eventFromJson } from './event-json.js';

export interface TailFlags {
  readonly server: string;
  readonly type: string[];
  readonly severity: string[];
  readonly minSeverity?: string;
  readonly entityType: string[];
  readonly entityId: string[];
  readonly user: string[];
  readonly expression?: string;
  readonly from?: string;
  readonly to?: string;
  readonly after?: string;
  readonly json: boolean;
  /** Reconnect attempts after the server went away; 0 disables reconnecting. */
  readonly retries: number;
}

const COLOURS: Record<number, string> = { 1: '\x1b[37m', 2: '\x1b[36m', 3: '\x1b[33m', 4: '\x1b[31m', 5: '\x1b[1;41;97m' };
const RESET = '\x1b[0m';

function filterFromFlags(f: TailFlags): Filter {
  // Reuse the event parser's enum handling: it accepts short and full names and rejects unknown ones.
  const types = f.type.map((t) => eventFromJson({ type: t }, '--type').type).filter((t) => t !== EventType.EVENT_TYPE_UNSPECIFIED);
  const severities = f.severity.map((s) => eventFromJson({ severity: s }, '--severity').severity);
  return {
    eventTypes: types, severities,
    minSeverity: f.minSeverity ? eventFromJson({ severity: f.minSeverity }, '--min-severity').severity : Severity.SEVERITY_UNSPECIFIED,
    entityTypes: f.entityType, entityIds: f.entityId, userIds: f.user, expression: f.expression ?? '',
    timeRange: f.from || f.to ? { start: f.from ? parseTime(f.from, '--from') : undefined, end: f.to ? parseTime(f.to, '--to') : undefined } : undefined,
  };
}

function pretty(e: AuditEvent, colour: boolean): string {
  const severity = severityToJSON(e.severity).replace('SEVERITY_', '').padEnd(8);
  const parts = [
    `#${e.sequence}`, e.timestamp?.toISOString() ?? '', colour ? `${COLOURS[e.severity] ?? ''}${severity}${RESET}` : severity,
    eventTypeToJSON(e.type).replace('EVENT_TYPE_', ''), `user=${e.userId || '-'}`, `${e.entityType || '-'}/${e.entityId || '-'}`,
    e.action, resultToJSON(e.result).replace('RESULT_', ''),
  ];
  return parts.join('  ');
}

/**
 * `auditstream tail`: subscribes with the filter flags and prints each event, as coloured lines for
 * people or proto JSON lines with --json. With --from it first replays history, with a progress line on
 * stderr until it reaches the events stored when it started. When the server goes away it reconnects
 * and resumes after the last cursor it saw, so nothing is missed or repeated.
 */
export async function tailCommand(flags: TailFlags): Promise<number> {
  const filter = filterFromFlags(flags);
  if (flags.after !== undefined && !/^\d+$/.test(flags.after)) throw new UsageError('--after: expected a sequence number');
  const client = connect(flags.server);
  const colour = !flags.json && process.stdout.isTTY === true;
  // Resume by token (any node of a cluster accepts it); the sequence orders what this stream sent.
  let cursor = flags.after !== undefined ? Number(flags.after) : undefined;
  let token = '';
  let attempts = 0;
  try {
    const liveFrom = flags.from ? (await call<GetStatsResponse>((cb) => client.getStats({}, cb))).lastSequence : 0;
    let replayed = 0;
    for (;;) {
      const outcome = await new Promise<'done' | ServiceError>((resolve) => {
        const position = token ? { afterSequence: undefined, afterCursor: token } : { afterSequence: cursor, afterCursor: '' };
        const stream = client.subscribe({ filter, ...position, clientName: 'auditstream-tail' });
        stream.on('data', (m: SubscribeResponse) => {
          attempts = 0;
          if (m.kind?.$case === 'started') [cursor, token] = [m.kind.started.cursor, m.kind.started.resumeCursor];
          if (m.kind?.$case === 'heartbeat' && m.kind.heartbeat.cursor >= (cursor ?? 0)) [cursor, token] = [m.kind.heartbeat.cursor, m.kind.heartbeat.resumeCursor];
          if (m.kind?.$case === 'gap') console.error(`gap: events ${m.kind.gap.fromSequence}-${m.kind.gap.toSequence} are no longer stored`);
          if (m.kind?.$case !== 'events') return;
          for (const e of m.kind.events.events) {
            console.log(flags.json ? JSON.stringify(AuditEvent.toJSON(e)) : pretty(e, colour));
            [cursor, token] = [e.sequence, e.cursor];
            if (e.sequence <= liveFrom) replayed++;
          }
          if (liveFrom > 0 && process.stderr.isTTY) process.stderr.write(`\rreplayed ${replayed} events${(cursor ?? 0) >= liveFrom ? ', live' : ''}   `);
        });
        stream.on('error', (err: ServiceError) => resolve(err));
        stream.on('end', () => resolve('done'));
      });
      if (outcome === 'done') return EXIT.OK;
      if (outcome.code === status.CANCELLED) return EXIT.OK;
      if (outcome.code !== status.UNAVAILABLE || attempts >= flags.retries) {
        console.error(`tail: ${outcome.details || outcome.message}`);
        return outcome.code === status.INVALID_ARGUMENT ? EXIT.USAGE : EXIT.FAILED;
      }
      attempts++;
      console.error(`tail: ${outcome.details || 'server unavailable'}; reconnecting after sequence ${cursor ?? 'now'} (attempt ${attempts})`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** attempts)));
    }
  } finally {
    client.close();
  }
}
