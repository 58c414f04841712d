import type { ServerWritableStream } from '@grpc/grpc-js';

/**
 * Waits until a server stream takes more (true) or its caller went away (false): a cancelled call never
 * emits 'drain', so waiting for 'drain' alone would hang the handler (and hold what it holds) forever.
 */
export function drained(call: ServerWritableStream<unknown, unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    if (call.cancelled) {
      resolve(false); // its 'cancelled' event may be past
      return;
    }
    const done = (value: boolean) => () => {
      call.off('drain', onDrain);
      call.off('cancelled', onGone);
      call.off('close', onGone);
      resolve(value);
    };
    const onDrain = done(true);
    const onGone = done(false);
    call.once('drain', onDrain);
    call.once('cancelled', onGone);
    call.once('close', onGone);
  });
}
