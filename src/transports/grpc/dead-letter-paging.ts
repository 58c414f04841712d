import { RedriveOutcome } from '../../../generated/audit/v1/audit_service.js';
import { AppError } from '../../domain/errors.js';
import type { RedriveOutcome as Outcome } from '../../domain/dead-letters.js';

/** What the dead-letter RPCs of Kafka and of webhooks share: page sizes, page tokens and redrive outcomes. */

const DEFAULT_LIMIT = 100;
/** Most letters per page, and most sequences named in one redrive. */
export const MAX_LIMIT = 1_000;

export const OUTCOMES: Record<Outcome, RedriveOutcome> = {
  delivered: RedriveOutcome.REDRIVE_OUTCOME_DELIVERED,
  failed: RedriveOutcome.REDRIVE_OUTCOME_FAILED,
  skipped: RedriveOutcome.REDRIVE_OUTCOME_SKIPPED,
  missing: RedriveOutcome.REDRIVE_OUTCOME_MISSING,
  not_found: RedriveOutcome.REDRIVE_OUTCOME_NOT_FOUND,
};

/** The page size asked for: 0 means the default; more than MAX_LIMIT is INVALID_ARGUMENT. */
export function checkLimit(limit: number): number {
  if (limit > MAX_LIMIT) throw AppError.invalid('limit', `is ${limit}, the most is ${MAX_LIMIT}`);
  return limit === 0 ? DEFAULT_LIMIT : limit;
}

/** A page token from `rpc` (the sequence after which the page starts); '' is the first page. */
export function parsePageToken(token: string, rpc: string): number {
  if (token === '') return 0;
  if (!/^\d{1,15}$/.test(token)) throw AppError.invalid('page_token', `is not a token from ${rpc}`);
  return Number(token);
}
