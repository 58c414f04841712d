import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { isAppError, type ErrorCode } from '../../domain/errors.js';
import type { Logger } from '../../observability/logger.js';

const CODES: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
  DATA_LOSS: status.DATA_LOSS,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  INTERNAL: status.INTERNAL,
};

/**
 * The one place errors become gRPC statuses. An AppError's message is meant for clients; anything
 * else is logged and answered with a fixed INTERNAL message, never its text or stack.
 */
export function toGrpcError(err: unknown, log: Logger): Partial<ServiceError> {
  if (isAppError(err)) {
    const metadata = new Metadata();
    if (err.retryAfterMs !== undefined) metadata.set('retry-after-ms', String(err.retryAfterMs));
    // Metadata values must be printable ASCII (grpc-js throws otherwise): a field path naming a
    // non-ASCII metadata key is escaped (\uXXXX) in the trailer; the message keeps it as it is.
    if (err.field) metadata.set('invalid-field', err.field.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
    return { code: CODES[err.code], details: err.message, metadata };
  }
  log.error({ err }, 'unexpected error while serving a call');
  return { code: status.INTERNAL, details: 'internal error' };
}
