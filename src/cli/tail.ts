import { status, type ServiceError } from '@grpc/grpc-js';
import type { GetStatsResponse, SubscribeResponse } from '../../generated/audit/v1/audit_service.js';
import { call, connect, EXIT, UsageError } from './client.js';
import { describeRpcError } from './errors.js';
import { eventPrinter, filterFromFlags } from './events.js';
import type { ConnectionFlags, FilterFlags } from './options.js';
import { endProgress, note, progress } from './output.js';

export interface TailFlags extends ConnectionFlags, FilterFlags {
  /** Resume after this sequence (this server's numbering). */
  readonly after?: string;
  /** Resume after this cursor token (from an event's cursor or a heartbeat's resume_cursor; any node of a cluster). */
  readonly afterCursor?: string;
  /** Reconnect attempts after the server went away; 0 disables reconnecting. */
  readonly retries: number;
}

/**
 * `auditstream tail`: subscribes with the filter flags and prints each event, as coloured lines for
 * people or proto JSON lines with --json. With --from it first replays history, with a progress line on
 * a terminal's stderr until it reaches the events stored when it started. When the server goes away it
 * reconnects and resumes after the last cursor it saw, so nothing is missed or repeated; when it gives
 * up it prints that cursor for --after-cursor.
 */
export async function tailCommand(flags: TailFlags): Promise<number> {
  const filter = filterFromFlags(flags);
  if (flags.after !== undefined && !/^\d+$/.test(flags.after)) throw new UsageError('--after: expected a sequence number');
  if (flags.after !== undefined && flags.afterCursor !== undefined) throw new UsageError('tail: give --after or --after-cursor, not both');
  if (flags.afterCursor !== undefined && flags.afterCursor.trim() === '') throw new UsageError('--after-cursor: expected a cursor token');
  const client = connect(flags);
  const print = eventPrinter(flags.json);
  // Resume by token (any node of a cluster accepts it); the sequence orders what this stream sent.
  let cursor = flags.after !== undefined ? Number(flags.after) : undefined;
  let token = flags.afterCursor ?? '';
  let attempts = 0;
  try {
    const replaying = flags.from !== undefined || flags.after !== undefined || flags.afterCursor !== undefined;
    // The progress line needs the newest sequence; a caller GetStats refuses (not an operator) goes without.
    const liveFrom = replaying && process.stderr.isTTY
      ? await call<GetStatsResponse>((cb) => client.getStats({}, cb)).then((s) => s.lastSequence, () => 0)
      : 0;
    let replayed = 0;
    for (;;) {
      const outcome = await new Promise<'done' | ServiceError>((resolve) => {
        const position = token ? { afterSequence: undefined, afterCursor: token } : { afterSequence: cursor, afterCursor: '' };
        const stream = client.subscribe({ filter, ...position, clientName: 'auditstream-tail' });
        stream.on('data', (m: SubscribeResponse) => {
          attempts = 0;
          if (m.kind?.$case === 'started') [cursor, token] = [m.kind.started.cursor, m.kind.started.resumeCursor || token];
          if (m.kind?.$case === 'heartbeat' && m.kind.heartbeat.cursor >= (cursor ?? 0)) [cursor, token] = [m.kind.heartbeat.cursor, m.kind.heartbeat.resumeCursor];
          if (m.kind?.$case === 'gap') note(`gap: events ${m.kind.gap.fromSequence}-${m.kind.gap.toSequence} are no longer stored`);
          if (m.kind?.$case !== 'events') return;
          for (const e of m.kind.events.events) {
            print(e);
            [cursor, token] = [e.sequence, e.cursor];
            if (e.sequence <= liveFrom) replayed++;
          }
          if ((cursor ?? 0) < liveFrom) progress(`replayed ${replayed} events, up to #${cursor} of #${liveFrom}`);
          else endProgress();
        });
        stream.on('error', (err: ServiceError) => resolve(err));
        stream.on('end', () => resolve('done'));
      });
      endProgress();
      if (outcome === 'done' || outcome.code === status.CANCELLED) return EXIT.OK;
      const resume = token ? `; resume with --after-cursor ${token}` : '';
      if (outcome.code !== status.UNAVAILABLE || attempts >= flags.retries) {
        note(`tail: ${describeRpcError(outcome, flags)}${outcome.code === status.UNAVAILABLE ? resume : ''}`);
        return outcome.code === status.INVALID_ARGUMENT ? EXIT.USAGE : EXIT.FAILED;
      }
      attempts++;
      note(`tail: ${outcome.details || 'server unavailable'}; reconnecting after sequence ${cursor ?? 'now'} (attempt ${attempts} of ${flags.retries})`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** attempts)));
    }
  } finally {
    client.close();
  }
}
