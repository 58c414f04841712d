import { status } from '@grpc/grpc-js';
import type { GetStatsResponse } from '../../generated/audit/v1/audit_service.js';
import { createClient } from '../client/index.js';
import { call, connectionOptions, EXIT, UsageError } from './client.js';
import { describeRpcError, isRpcError } from './errors.js';
import { eventPrinter, filterFromFlags } from './events.js';
import type { ConnectionFlags, FilterFlags } from './options.js';
import { endProgress, note, progress } from './output.js';

export interface TailFlags extends ConnectionFlags, FilterFlags {
  /** Resume after this sequence (this server's numbering). */
  readonly after?: string;
  /** Resume after this cursor token (from an event's cursor or a heartbeat's resume_cursor; any node of a cluster). */
  readonly afterCursor?: string;
  /** Reconnect attempts in a row after the server went away; 0 disables reconnecting. */
  readonly retries: number;
}

/** The replay progress line is redrawn every this many events (a line per event would flood the terminal). */
const PROGRESS_EVERY = 100;

/**
 * `auditstream tail`: subscribes with the filter flags and prints each event, as coloured lines for
 * people or proto JSON lines with --json. With --from it first replays history, with a progress line on
 * a terminal's stderr until it reaches the events stored when it started. The client library's
 * subscription reconnects when the server goes away and resumes after the last event printed, so
 * nothing is missed or repeated; when it gives up, tail prints that cursor for --after-cursor.
 */
export async function tailCommand(flags: TailFlags): Promise<number> {
  const filter = filterFromFlags(flags);
  if (flags.after !== undefined && !/^\d+$/.test(flags.after)) throw new UsageError('--after: expected a sequence number');
  if (flags.after !== undefined && flags.afterCursor !== undefined) throw new UsageError('tail: give --after or --after-cursor, not both');
  if (flags.afterCursor !== undefined && flags.afterCursor.trim() === '') throw new UsageError('--after-cursor: expected a cursor token');
  const client = createClient(connectionOptions(flags));
  const print = eventPrinter(flags.json);
  try {
    const replaying = flags.from !== undefined || flags.after !== undefined || flags.afterCursor !== undefined;
    // The progress line needs the newest sequence; a caller GetStats refuses (not an operator) goes without.
    const liveFrom = replaying && process.stderr.isTTY
      ? await call<GetStatsResponse>((cb) => client.raw().getStats({}, cb)).then((s) => s.lastSequence, () => 0)
      : 0;
    const subscription = client.subscribe(filter, {
      afterSequence: flags.after === undefined ? undefined : Number(flags.after),
      afterCursor: flags.afterCursor,
      clientName: 'auditstream-tail',
      reconnect: { maxAttempts: flags.retries, initialDelayMs: 500, maxDelayMs: 5_000 },
      onGap: (gap) => note(`gap: events ${gap.fromSequence}-${gap.toSequence} are no longer stored`),
      onReconnect: ({ error, attempt, resumeSequence }) => note(
        `tail: ${(isRpcError(error) && error.details) || 'server unavailable'}; reconnecting after sequence ${resumeSequence ?? 'now'} (attempt ${attempt} of ${flags.retries})`,
      ),
    });
    let replayed = 0;
    try {
      for await (const event of subscription) {
        print(event);
        if (event.sequence >= liveFrom) endProgress();
        else if (++replayed % PROGRESS_EVERY === 1) progress(`replayed ${replayed} events, up to #${event.sequence} of #${liveFrom}`);
      }
      return EXIT.OK;
    } catch (err) {
      endProgress();
      if (!isRpcError(err)) throw err;
      const code: status = err.code;
      if (code === status.CANCELLED) return EXIT.OK;
      const resume = code === status.UNAVAILABLE && subscription.resumeCursor ? `; resume with --after-cursor ${subscription.resumeCursor}` : '';
      note(`tail: ${describeRpcError(err, flags)}${resume}`);
      return code === status.INVALID_ARGUMENT ? EXIT.USAGE : EXIT.FAILED;
    }
  } finally {
    client.close();
  }
}
