import { type ClientReadableStream, type ServiceError, status } from '@grpc/grpc-js';
import { AuditStreamError } from './errors.js';

export interface MessageStreamOptions {
  /** Messages read ahead of the application before the stream is paused (HTTP/2 flow control then holds the server). */
  readonly readAhead: number;
  /** A stream that brings nothing (not even a heartbeat) for this long is taken as lost; 0: never. */
  readonly idleTimeoutMs: number;
}

/**
 * A server stream as an async sequence of its messages. It ends when the call ends with OK and
 * throws an AuditStreamError when it ends otherwise; messages read ahead but not yet taken are
 * dropped then (the caller resumes from what it took). Leaving the loop early cancels the call.
 */
export async function* readMessages<T>(call: ClientReadableStream<T>, options: MessageStreamOptions): AsyncGenerator<T, void, undefined> {
  const queue: T[] = [];
  let failure: AuditStreamError | undefined;
  let ended = false;
  let wake = (): void => undefined;
  let idle: NodeJS.Timeout | undefined;
  const watch = (): void => {
    if (options.idleTimeoutMs <= 0) return;
    clearTimeout(idle);
    idle = setTimeout(() => {
      failure ??= new AuditStreamError(status.UNAVAILABLE, `no message from the server for ${options.idleTimeoutMs} ms (not even a heartbeat): taking the connection as lost`);
      call.cancel();
      wake();
    }, options.idleTimeoutMs);
  };
  call.on('data', (message: T) => {
    queue.push(message);
    if (queue.length >= options.readAhead) call.pause();
    watch();
    wake();
  });
  call.on('end', () => {
    ended = true;
    wake();
  });
  // Listened to for the whole life of the call: grpc-js reports a failed status as an 'error' event,
  // which would be thrown as uncaught without a listener (the CANCELLED that cancel() causes included).
  call.on('error', (err: ServiceError) => {
    failure ??= AuditStreamError.fromServiceError(err);
    wake();
  });
  watch();
  try {
    for (;;) {
      if (failure) throw failure;
      const message = queue.shift();
      if (message !== undefined) {
        if (call.isPaused() && queue.length <= options.readAhead / 2) call.resume();
        yield message;
        continue;
      }
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    clearTimeout(idle);
    if (!ended && failure === undefined) call.cancel();
  }
}
