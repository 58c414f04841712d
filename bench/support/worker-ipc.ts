import type { WorkerMessage } from './processes.js';

/**
 * The worker side of the bench's IPC: a worker exits when its parent goes away (so nothing outlives the
 * bench), reports failures as an 'error' message, and takes commands one at a time.
 */
export function serveParent(handle: (m: WorkerMessage) => Promise<void> | void, maxLifetimeMs = 30 * 60_000): void {
  if (!process.send) {
    console.error('this is a bench worker: run it through `npm run bench`');
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  const fail = (err: unknown): void => {
    reply({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    setTimeout(() => process.exit(1), 200);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  setTimeout(() => process.exit(3), maxLifetimeMs).unref(); // a last resort: never run unbounded
  process.on('message', (m: WorkerMessage) => {
    Promise.resolve().then(() => handle(m)).catch(fail);
  });
}

export function reply(message: WorkerMessage): void {
  if (process.connected) process.send!(message);
}
