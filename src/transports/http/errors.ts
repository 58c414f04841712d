import type { ServerResponse } from 'node:http';
import { isAppError, type ErrorCode } from '../../domain/errors.js';
import type { Logger } from '../../observability/logger.js';

/**
 * WebSocket close codes (README, "Close codes"). The rule for clients: below 4400, reconnect with
 * backoff and resume with after_sequence; 4400 and up, do not reconnect until the request is fixed.
 */
export const CloseCode = {
  /** RFC 6455: a frame larger than websocket.max_message_size (sent by the ws library itself). */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL: 4000,
  SHUTTING_DOWN: 4001,
  TOO_MANY_CONNECTIONS: 4002,
  PONG_TIMEOUT: 4003,
  WRITE_TIMEOUT: 4004,
  FRAME_FLOOD: 4005,
  UNAUTHENTICATED: 4401,
  PERMISSION_DENIED: 4403,
} as const;

/** The AppError codes that end a whole connection; every other one ends only the request or frame. */
const CLOSE_FOR: Partial<Record<ErrorCode, number>> = {
  UNAVAILABLE: CloseCode.SHUTTING_DOWN,
  UNAUTHENTICATED: CloseCode.UNAUTHENTICATED,
};

/** Close code when a connection cannot be accepted at all (authentication at the upgrade). */
const REFUSE_FOR: Partial<Record<ErrorCode, number>> = {
  ...CLOSE_FOR,
  PERMISSION_DENIED: CloseCode.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: CloseCode.TOO_MANY_CONNECTIONS,
};

/** Google's HTTP mapping of the canonical codes. */
const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  INTERNAL: 500,
};

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly field?: string | undefined };
}

/**
 * The one place errors become what an HTTP or WebSocket client sees. An AppError's message is meant
 * for clients; anything else is logged and answered with a fixed INTERNAL message, never its text.
 */
export function errorBody(err: unknown, log: Logger): ErrorBody {
  if (isAppError(err)) return { error: { code: err.code, message: err.message, field: err.field } };
  log.error({ err }, 'unexpected error while serving an HTTP or WebSocket client');
  return { error: { code: 'INTERNAL', message: 'internal error' } };
}

/** The close code for an error that ends the connection; undefined when only the frame failed. */
export function closeCodeFor(code: ErrorCode): number | undefined {
  return CLOSE_FOR[code];
}

/** The close code that refuses a new connection for this error. */
export function refusalCodeFor(code: ErrorCode): number {
  return REFUSE_FOR[code] ?? CloseCode.INTERNAL;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** Answers a failed request: the status from the code, the body `{"error":{code, message, field}}`. */
export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const body = errorBody(err, log);
  const retry = isAppError(err) && err.retryAfterMs !== undefined ? { 'retry-after': String(Math.ceil(err.retryAfterMs / 1000)) } : undefined;
  sendJson(res, HTTP_STATUS[body.error.code], body, retry);
}

/** Every HTTP endpoint here is read-only. */
export function sendMethodNotAllowed(res: ServerResponse, allow = 'GET, HEAD'): void {
  sendJson(res, 405, { error: { code: 'INVALID_ARGUMENT', message: `only ${allow} is served here` } }, { allow });
}
