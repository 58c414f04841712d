/** Exit codes: 0 success, 1 the server refused or failed, 2 bad usage (flags, input). */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

export class UsageError extends Error {
  override name = 'UsageError';
}
