import type { Config } from '../../config/schema.js';
import type { InputLimits } from '../../contract/limits.js';
import type { Dispatcher } from '../../dispatch/dispatcher.js';
import type { PumpOptions } from '../../dispatch/pump.js';
import type { Logger } from '../../observability/logger.js';
import type { Security } from '../../security/security.js';

/** What the WebSocket and SSE bridges share with the gRPC transport. */
export interface BridgeDeps {
  readonly dispatcher: Dispatcher;
  readonly limits: InputLimits;
  readonly pump: PumpOptions;
  readonly log: Logger;
  /** Open streams of every transport, so shutdown can wait for them to drain. */
  readonly streams: Set<Promise<void>>;
  readonly security: Security;
}

/** The websocket.* config (durations in milliseconds, sizes in bytes), as validated. */
export type WebSocketSettings = Config['websocket'];

/** Registers a stream until it settles. */
export function track(streams: Set<Promise<void>>, stream: Promise<void>): void {
  streams.add(stream);
  void stream.finally(() => streams.delete(stream));
}
