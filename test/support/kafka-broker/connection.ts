/**
 * One client connection. Requests are handled one at a time in arrival
 * order, like Kafka does per connection, so responses go out in request
 * order. A request the broker cannot decode, or an API/version it does not
 * implement, closes the connection (Kafka's behaviour too).
 *
 * A frozen connection behaves like a broker process stopped with SIGSTOP:
 * the socket stays open, nothing is read from it (the client's requests
 * wait in the socket buffers), nothing is handled and nothing is written,
 * including the answer of a request that was being handled when the freeze
 * began. Thawing reads and answers everything that waited, in order, as a
 * resumed process does: a produce the client gave up on is still written.
 */
import type { Socket } from 'node:net';
import { ProtocolError } from './codec.js';
import { FrameSplitter, frameResponse, readRequest } from './framing.js';
import { HANDLERS } from './handlers/index.js';
import type { BrokerState } from './handlers/types.js';
import { ApiKey } from './protocol.js';

export class BrokerConnection {
  private readonly splitter = new FrameSplitter();
  private readonly queue: Buffer[] = [];
  private readonly abort = new AbortController();
  private busy = false;
  /** Set while frozen: resolves on thaw (or when the connection closes). */
  private frozen: { readonly thawed: Promise<void>; readonly thaw: () => void } | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly broker: BrokerState,
    private readonly onError: (err: unknown) => void,
    frozen = false,
  ) {
    socket.setNoDelay(true);
    if (frozen) this.freeze();
    socket.on('data', (chunk: Buffer) => {
      try {
        this.queue.push(...this.splitter.push(chunk));
      } catch {
        this.destroy();
        return;
      }
      void this.pump();
    });
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.abort.abort());
  }

  get closed(): Promise<void> {
    if (this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  destroy(): void {
    this.abort.abort();
    this.socket.destroy();
    this.frozen?.thaw();
  }

  /** Stops reading, handling and answering; the socket stays open. */
  freeze(): void {
    if (this.frozen || this.socket.destroyed) return;
    let thaw!: () => void;
    const thawed = new Promise<void>((resolve) => (thaw = resolve));
    this.frozen = { thawed, thaw };
    this.socket.pause();
  }

  /** Reads, handles and answers again, starting with what waited. */
  thaw(): void {
    const frozen = this.frozen;
    if (!frozen) return;
    this.frozen = undefined;
    frozen.thaw();
    if (!this.socket.destroyed) this.socket.resume();
    void this.pump();
  }

  /** Resolves at once unless frozen, else on thaw (or close). */
  private async running(): Promise<void> {
    while (this.frozen && !this.socket.destroyed) await this.frozen.thawed;
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.socket.destroyed) {
        await this.running();
        if (this.socket.destroyed) break;
        const response = await this.process(this.queue.shift()!);
        // Frozen while handling it: the answer goes out on thaw.
        await this.running();
        if (response && !this.socket.destroyed) this.socket.write(response);
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) this.onError(err);
      this.destroy();
    } finally {
      this.busy = false;
    }
  }

  private async process(frame: Buffer): Promise<Buffer | null> {
    const { header, body } = readRequest(frame);
    const handler = HANDLERS.get(header.apiKey);
    if (!handler) throw new ProtocolError(`unsupported API key ${header.apiKey}`);
    const versionOk = header.apiVersion >= handler.minVersion && header.apiVersion <= handler.maxVersion;
    if (!versionOk && header.apiKey !== ApiKey.ApiVersions) {
      throw new ProtocolError(`unsupported version ${header.apiVersion} of API ${header.apiKey}`);
    }
    const out = await handler.handle(body, {
      apiKey: header.apiKey,
      apiVersion: header.apiVersion,
      clientId: header.clientId ?? '',
      broker: this.broker,
      signal: this.abort.signal,
    });
    // Left-over bytes mean the broker decoded the request wrongly: report it as a broker bug.
    if (versionOk && body.remaining() !== 0) throw new Error(`API ${header.apiKey} v${header.apiVersion}: ${body.remaining()} undecoded request bytes`);
    return out ? frameResponse(header.correlationId, out.toBuffer()) : null;
  }
}
