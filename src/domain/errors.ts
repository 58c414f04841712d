/** The closed set of error codes; each transport maps them in one place. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'INTERNAL';

/** An error meant for the client: its message is safe to send. Anything else becomes INTERNAL. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The offending request field (proto name, dotted path), when the error is about one. */
    readonly field?: string,
    /** For RESOURCE_EXHAUSTED: how long the client should wait before retrying. */
    readonly retryAfterMs?: number,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'AppError';
  }

  static invalid(field: string, message: string): AppError {
    return new AppError('INVALID_ARGUMENT', message, field);
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
