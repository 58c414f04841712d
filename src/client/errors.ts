import { type Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { PublishError } from '../../generated/audit/v1/audit_service.js';

/**
 * The one error type the client library throws for what a server answered (or for a connection it
 * lost): the gRPC status code, the server's reason, and the field at fault when the server named one
 * (the `invalid-field` trailer, or a batch event's own `field`). `code` and `details` have the shape of
 * a grpc-js ServiceError, so code that already handles those handles these too.
 */
export class AuditStreamError extends Error {
  override name = 'AuditStreamError';

  constructor(
    /** The gRPC status code (`status.INVALID_ARGUMENT`, ...). */
    readonly code: status,
    /** The server's reason, e.g. `event.action: is required`. */
    readonly details: string,
    /** The field at fault, e.g. `event.action`; undefined when the error is not about one field. */
    readonly field?: string,
    /** How long the server asked the caller to wait before trying again (`retry-after-ms`). */
    readonly retryAfterMs?: number,
    /** The trailers, when the error came from a call. */
    readonly metadata?: Metadata,
    /** Set when this is one event's own refusal within a batch (the other events were not refused with it). */
    readonly eventId?: string,
  ) {
    super(`${status[code] ?? `status ${code}`}: ${details}`);
  }

  /** The status name, e.g. `RESOURCE_EXHAUSTED`. */
  get codeName(): string {
    return status[this.code] ?? `status ${this.code}`;
  }

  /** A failed call's ServiceError, with the field and retry hint read from its trailers. */
  static fromServiceError(err: ServiceError): AuditStreamError {
    const trailer = (key: string): string | undefined => {
      const value = err.metadata?.get(key)[0];
      return typeof value === 'string' && value !== '' ? value : undefined;
    };
    const retryAfter = Number(trailer('retry-after-ms'));
    return new AuditStreamError(
      err.code, err.details ?? err.message, trailer('invalid-field'), Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined, err.metadata,
    );
  }

  /**
   * One event's refusal inside a PublishBatch answer. `renameBatchPath` turns the server's
   * `events[7].action` into `event.action`, what a single Publish would have said: a caller of the
   * batching publisher never saw the batch, so its position in it would only mislead.
   */
  static fromPublishError(error: PublishError, eventId: string, renameBatchPath = false): AuditStreamError {
    const code = (status as unknown as Record<string, status | undefined>)[error.code] ?? status.UNKNOWN;
    const rename = (text: string): string => (renameBatchPath ? text.replace(/^events\[\d+\]/, 'event') : text);
    return new AuditStreamError(code, rename(error.message), error.field === '' ? undefined : rename(error.field), undefined, undefined, eventId);
  }
}

const codeOf = (err: unknown): status | undefined => (err instanceof AuditStreamError ? err.code : undefined);

/**
 * The connection to this server is gone or unusable, and the same request may succeed on a new
 * connection or another node: UNAVAILABLE (refused, dropped, shutting down), DEADLINE_EXCEEDED on a
 * unary call, and the INTERNAL that grpc-js reports when the HTTP/2 stream is reset under it
 * ("Received RST_STREAM ..."), which is transport loss, not the server's INTERNAL.
 */
export function isConnectionLoss(err: unknown): boolean {
  const code = codeOf(err);
  if (code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED) return true;
  return code === status.INTERNAL && /^Received RST_STREAM/.test((err as AuditStreamError).details);
}

/**
 * A publish may be sent again: the connection was lost, or the server refused it for now (a full
 * queue or a rate limit: RESOURCE_EXHAUSTED). Safe because the library gives every event an id
 * before the first attempt, and the server stores an id once.
 */
export function isRetryablePublish(err: unknown): boolean {
  return isConnectionLoss(err) || codeOf(err) === status.RESOURCE_EXHAUSTED;
}

/** A batch event refused for now (its lane was full, or the server was shutting down): send it again. */
export function isRetryableRefusal(error: PublishError): boolean {
  return error.code === 'RESOURCE_EXHAUSTED' || error.code === 'UNAVAILABLE';
}

/**
 * The AbortSignal's reason as the error to throw: the caller's own Error, else an AbortError
 * DOMException (with a reason that is not an Error as its cause).
 */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', { name: 'AbortError', cause: reason });
}

/** Anything thrown, as an Error to reject or throw with. */
export const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
