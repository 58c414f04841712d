import {
  DeadLetter, type ListDeadLettersResponse, RedriveOutcome, redriveOutcomeToJSON, type RedriveDeadLettersResponse,
} from '../../generated/audit/v1/audit_service.js';
import type { Timestamp } from '../../generated/google/protobuf/timestamp.js';
import { timestampText } from '../contract/time-mapping.js';
import { call, connect, EXIT, UsageError } from './client.js';
import type { ConnectionFlags } from './options.js';
import { note, out, outJson } from './output.js';

export interface ListFlags extends ConnectionFlags {
  readonly limit?: number | undefined;
  readonly pageToken?: string | undefined;
  readonly all: boolean;
}

/** `auditstream dead-letters [list]`: the events Kafka refused for good, oldest first (--json: one line each). */
export async function listDeadLetters(flags: ListFlags): Promise<number> {
  const client = connect(flags);
  try {
    return await printLetterPages(
      flags,
      (pageToken) => call<ListDeadLettersResponse>((cb) => client.listDeadLetters({ limit: flags.limit ?? 0, pageToken }, cb)),
      (l) => (flags.json ? outJson(DeadLetter.toJSON(l)) : out(letterLine(l, l.topic))),
    );
  } finally {
    client.close();
  }
}

/** The fields of a dead letter a line shows (Kafka's and a webhook's alike). */
interface LetterFields {
  readonly sequence: number;
  readonly eventId: string;
  readonly reason: string;
  readonly attempts: number;
  readonly lastFailedAt?: Timestamp | undefined;
  readonly event?: unknown;
}

/** One letter as a line for people; `where` (Kafka's topic) when there is one. */
export function letterLine(l: LetterFields, where?: string): string {
  return [l.sequence, l.eventId, ...(where === undefined ? [] : [where]), l.reason, `attempts=${l.attempts}`, timestampText(l.lastFailedAt) ?? '-', l.event ? '' : '(event no longer stored)'].join('  ').trimEnd();
}

/**
 * Prints pages of dead letters from --page-token on: one page, or every page with --all; a count and
 * the next page's token on stderr.
 */
export async function printLetterPages<L>(
  flags: ListFlags,
  fetchPage: (pageToken: string) => Promise<{ readonly deadLetters: readonly L[]; readonly nextPageToken: string; readonly total: number }>,
  print: (letter: L) => void,
): Promise<number> {
  let pageToken = flags.pageToken ?? '';
  let shown = 0;
  for (;;) {
    const page = await fetchPage(pageToken);
    page.deadLetters.forEach(print);
    shown += page.deadLetters.length;
    if (page.nextPageToken === '' || !flags.all) {
      if (!flags.json) note(`${shown} shown, ${page.total} dead letters in all`);
      if (page.nextPageToken !== '') note(`more: continue with --page-token ${page.nextPageToken}`);
      return EXIT.OK;
    }
    pageToken = page.nextPageToken;
  }
}

export interface RedriveFlags extends ConnectionFlags {
  readonly all: boolean;
  readonly limit?: number | undefined;
}

/**
 * `auditstream dead-letters redrive SEQ... | --all`: sends dead letters to Kafka again. Exit 1 when
 * any of them was not delivered (refused again, skipped with the circuit open, gone, or unknown).
 */
export async function redriveDeadLetters(sequences: string[], flags: RedriveFlags): Promise<number> {
  if (sequences.length === 0 && !flags.all) throw new UsageError('dead-letters redrive: give the sequences to redrive, or --all');
  if (sequences.length > 0 && flags.all) throw new UsageError('dead-letters redrive: give sequences or --all, not both');
  const bad = sequences.find((s) => !/^\d+$/.test(s));
  if (bad !== undefined) throw new UsageError(`dead-letters redrive: "${bad}" is not a sequence number`);
  const client = connect(flags);
  try {
    const r = await call<RedriveDeadLettersResponse>((cb) => client.redriveDeadLetters({ sequences: sequences.map(Number), limit: flags.limit ?? 0 }, cb));
    for (const result of r.results) {
      const outcome = redriveOutcomeToJSON(result.outcome).replace('REDRIVE_OUTCOME_', '');
      if (flags.json) outJson({ sequence: result.sequence, eventId: result.eventId, outcome, reason: result.reason });
      else out([result.sequence, outcome, result.eventId || '-', result.reason].join('  ').trimEnd());
    }
    note(`delivered ${r.deliveredCount} of ${r.results.length}; ${r.remaining} dead letters remain`);
    return r.results.every((x) => x.outcome === RedriveOutcome.REDRIVE_OUTCOME_DELIVERED) ? EXIT.OK : EXIT.FAILED;
  } finally {
    client.close();
  }
}
