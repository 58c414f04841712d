import { WebSocket, type RawData } from 'ws';
import { startedJson } from '../../contract/json-encoding.js';
import { decodeFrame, frameId, toClientFrame, type ClientFrame } from '../../contract/ws-client-frames.js';
import { pumpSubscription } from '../../dispatch/pump.js';
import type { Subscription } from '../../dispatch/subscription.js';
import { AppError } from '../../domain/errors.js';
import type { Identity } from './auth.js';
import { track, type BridgeDeps, type WebSocketSettings } from './deps.js';
import { CloseCode, closeCodeFor, errorBody } from './errors.js';
import { frame } from './ws-frames.js';
import { WsSubscriptionSink, type FrameChannel } from './ws-sink.js';

/** How long a peer gets to answer our close frame before the socket is cut. */
const CLOSE_GRACE_MS = 2_000;

/** Starts the closing handshake, and cuts the socket if the peer does not complete it in time. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  if (ws.readyState === WebSocket.OPEN) ws.close(code, Buffer.from(reason).subarray(0, 123).toString()); // RFC 6455 limit
  const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  timer.unref();
  ws.once('close', () => clearTimeout(timer));
}

interface Entry {
  readonly sub: Subscription;
  readonly sink: WsSubscriptionSink;
}

/**
 * One WebSocket client: reads its frames (subscribe, unsubscribe, ping), runs one pump per
 * subscription, and guards the connection: frame rate, liveness (pings), and a send buffer bounded
 * by websocket.send_buffer_size that stops the pumps when full, so the subscriptions catch up from
 * the log instead of piling frames up in memory.
 */
export class WsConnection implements FrameChannel {
  private readonly subs = new Map<string, Entry>();
  private lastPong = Date.now();
  private tokens: number;
  private refilledAt = Date.now();
  private writers: Array<() => void> = [];
  private stallTimer?: NodeJS.Timeout | undefined;
  /**
   * A write failed: the peer is gone (reset, terminated) although ws has not yet run its close
   * handling, so readyState still says OPEN. Writes to such a socket are dropped without adding to
   * bufferedAmount, so without this the pumps would see neither backpressure nor a closed socket.
   */
  private broken = false;
  /** Resolves when the socket has closed. */
  readonly done: Promise<void>;

  constructor(
    readonly socket: WebSocket,
    private readonly identity: Identity,
    private readonly deps: BridgeDeps,
    private readonly settings: WebSocketSettings,
  ) {
    this.tokens = settings.max_frames_per_second;
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('pong', () => {
      this.lastPong = Date.now();
    });
    // Protocol errors (bad framing, a frame over max_message_size) close the socket; ws has already
    // sent the close code, so there is nothing to add.
    socket.on('error', (err) => deps.log.debug({ err }, 'websocket protocol error'));
    this.done = new Promise((resolve) => socket.once('close', () => {
      this.onClosed();
      resolve();
    }));
  }

  get closed(): boolean {
    return this.broken || this.socket.readyState !== WebSocket.OPEN;
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  send(text: string): boolean {
    if (this.closed) return true;
    this.socket.send(text, this.afterWrite);
    return this.socket.bufferedAmount <= this.settings.send_buffer_size;
  }

  drained(): Promise<void> {
    if (this.closed || this.socket.bufferedAmount <= this.settings.send_buffer_size) return Promise.resolve();
    // Over the bound: the client is not reading fast enough. Allow write_timeout for it to recover.
    this.stallTimer ??= setTimeout(
      () => this.close(CloseCode.WRITE_TIMEOUT, 'write timeout: the client is not reading; reconnect and resume'),
      this.settings.write_timeout,
    );
    return new Promise((resolve) => this.writers.push(resolve));
  }

  close(code: number, reason: string): void {
    closeSocket(this.socket, code, reason);
    this.wakeWriters();
  }

  /** Called every ping_interval: close a peer silent for pong_timeout, else ping it. */
  checkLiveness(now: number): void {
    if (this.closed) return;
    if (now - this.lastPong > this.settings.pong_timeout) this.close(CloseCode.PONG_TIMEOUT, 'pong timeout');
    else this.socket.ping();
  }

  /**
   * Runs after each frame is handed to the OS: wake the pumps once the buffer is under the bound. An
   * error means the socket is gone: stop the pumps now rather than when ws reports the close.
   */
  private readonly afterWrite = (err?: Error): void => {
    if (err) {
      this.broken = true;
      this.wakeWriters();
      return;
    }
    if (this.socket.bufferedAmount <= this.settings.send_buffer_size) this.wakeWriters();
  };

  private wakeWriters(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    const writers = this.writers;
    this.writers = [];
    for (const wake of writers) wake();
  }

  /** A token bucket: max_frames_per_second per second, with that many as a burst. */
  private allowFrame(): boolean {
    const now = Date.now();
    const rate = this.settings.max_frames_per_second;
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!this.allowFrame()) {
      this.close(CloseCode.FRAME_FLOOD, `more than ${this.settings.max_frames_per_second} frames per second`);
      return;
    }
    let id: string | undefined;
    try {
      if (isBinary) throw new AppError('INVALID_ARGUMENT', 'binary frames are not accepted; send JSON text frames');
      const raw = decodeFrame(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'));
      id = frameId(raw);
      this.handle(toClientFrame(raw, this.deps.limits));
    } catch (err) {
      this.fail(id, err);
    }
  }

  private handle(f: ClientFrame): void {
    switch (f.type) {
      case 'ping':
        this.send(frame('pong', f.id, { serverTime: new Date().toISOString() }));
        return;
      case 'unsubscribe': {
        const entry = this.subs.get(f.id);
        if (!entry) throw new AppError('NOT_FOUND', `no subscription ${JSON.stringify(f.id)} on this connection`, 'id');
        this.subs.delete(f.id); // the id may be reused at once
        entry.sink.stop();
        entry.sub.end('unsubscribed');
        this.send(frame('ended', f.id, { reason: 'unsubscribed' }));
        return;
      }
      case 'subscribe':
        this.subscribe(f);
    }
  }

  private subscribe(f: Extract<ClientFrame, { type: 'subscribe' }>): void {
    if (this.subs.has(f.id)) throw new AppError('ALREADY_EXISTS', `subscription ${JSON.stringify(f.id)} is already open on this connection`, 'id');
    const release = this.deps.security.holdSubscription(this.identity);
    let sub: Subscription;
    try {
      sub = this.deps.dispatcher.subscribe({
        filter: f.filter, afterSequence: f.afterSequence, afterCursor: f.afterCursor, clientName: f.clientName || this.identity.identity.subject, transport: 'websocket',
        viewer: this.deps.security.viewer(this.identity), owner: this.identity.identity.subject,
      });
    } catch (err) {
      release();
      throw err;
    }
    const sink = new WsSubscriptionSink(this, f.id, (sequence) => sub.tokenAt(sequence));
    this.subs.set(f.id, { sub, sink });
    this.send(frame('subscribed', f.id, startedJson(sub.id, sub.deliveredCursor, sub.tokenAt(sub.deliveredCursor))));
    track(this.deps.streams, this.run(f.id, sub, sink).finally(release));
  }

  private async run(id: string, sub: Subscription, sink: WsSubscriptionSink): Promise<void> {
    const mine = (): boolean => this.subs.get(id)?.sub === sub;
    try {
      const reason = await pumpSubscription(sub, sink, this.deps.pump);
      // Ended by its time range or by an Unsubscribe RPC: tell the client. On shutdown the
      // connection's close code says it all; a client unsubscribe was answered already.
      if ((reason === 'completed' || reason === 'unsubscribed') && mine()) {
        this.subs.delete(id);
        this.send(frame('ended', id, { reason }));
      }
    } catch (err) {
      if (mine()) this.subs.delete(id);
      this.fail(id, err);
    } finally {
      this.deps.dispatcher.release(sub);
    }
  }

  /** An error frame naming the problem; the connection stays open unless the error ends it. */
  private fail(id: string | undefined, err: unknown): void {
    const body = errorBody(err, this.deps.log);
    this.send(frame('error', id, body));
    const code = closeCodeFor(body.error.code);
    if (code !== undefined) this.close(code, body.error.message);
  }

  private onClosed(): void {
    for (const { sub } of this.subs.values()) sub.end('cancelled'); // wakes pumps waiting for events
    this.subs.clear();
    this.wakeWriters();
  }
}
