import { QueryOrder, type QueryResponse } from '../../generated/audit/v1/audit_service.js';
import { connect, drain, EXIT, UsageError } from './client.js';
import { eventPrinter, filterFromFlags } from './events.js';
import type { ConnectionFlags, FilterFlags } from './options.js';
import { endProgress, note, progress } from './output.js';

export interface QueryFlags extends ConnectionFlags, FilterFlags {
  readonly order: string;
  /** Events per page (server default 100, at most 10000). */
  readonly limit?: number | undefined;
  readonly pageToken?: string | undefined;
  /** Follow next_page_token until no more events match. */
  readonly all: boolean;
}

const ORDERS: Record<string, QueryOrder> = { asc: QueryOrder.QUERY_ORDER_ASCENDING, desc: QueryOrder.QUERY_ORDER_DESCENDING };

/**
 * `auditstream query`: searches stored history with the filter flags, newest first (--order asc for
 * oldest first), one page (--limit, --page-token) or every page (--all). Events go to stdout as lines
 * or proto JSON lines; where the next page starts goes to stderr.
 */
export async function queryCommand(flags: QueryFlags): Promise<number> {
  const filter = filterFromFlags(flags);
  const order = ORDERS[flags.order];
  if (order === undefined) throw new UsageError(`--order: expected asc or desc, got "${flags.order}"`);
  if (flags.pageToken !== undefined && !/^\d+$/.test(flags.pageToken)) throw new UsageError('--page-token: expected a token printed by a previous query');
  const client = connect(flags);
  const print = eventPrinter(flags.json);
  let pageToken = flags.pageToken ?? '';
  let printed = 0;
  try {
    for (;;) {
      let next = '';
      await drain(client.query({ filter, order, limit: flags.limit ?? 0, pageToken }), (m: QueryResponse) => {
        if (m.kind?.$case === 'events') {
          m.kind.events.events.forEach(print);
          printed += m.kind.events.events.length;
        } else if (m.kind?.$case === 'pageEnd') {
          next = m.kind.pageEnd.nextPageToken;
        }
      });
      if (next === '') return EXIT.OK;
      if (!flags.all) {
        note(`more events: continue with --page-token ${next}`);
        return EXIT.OK;
      }
      progress(`${printed} events`);
      pageToken = next;
    }
  } finally {
    endProgress();
    client.close();
  }
}
