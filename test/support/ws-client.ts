import WebSocket, { type ClientOptions } from 'ws';
import { within } from './server.js';

/** A real `ws` client of the bridge that records every frame, with promises for what a test waits on. */
export class WsClient {
  readonly frames: any[] = [];
  closeCode?: number;
  closeReason?: string;
  private listeners: Array<() => boolean> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { binary: data } : JSON.parse(data.toString()));
      this.notify();
    });
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.notify();
    });
    socket.on('error', () => {}); // a refused or cut connection shows as its close code
  }

  /** Connects to /v1/stream; resolves once open (a refused client is still open until the server closes it). */
  static async open(httpUrl: string, options: ClientOptions = {}, path = '/v1/stream'): Promise<WsClient> {
    const client = new WsClient(new WebSocket(httpUrl.replace(/^http/, 'ws') + path, options));
    await within(new Promise<void>((resolve, reject) => {
      client.socket.once('open', () => resolve());
      client.socket.once('error', reject);
    }), 'the WebSocket to open');
    return client;
  }

  send(frame: object | string): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with check()'s first defined value as frames arrive; fails if the socket closes first. */
  until<T>(what: string, check: () => T | undefined, ms = 5000): Promise<T> {
    return within(new Promise<T>((resolve, reject) => {
      const settled = (): boolean => {
        const value = check();
        if (value !== undefined) resolve(value);
        else if (this.closeCode !== undefined) reject(new Error(`socket closed (${this.closeCode} ${this.closeReason}) before ${what}`));
        else return false;
        return true;
      };
      if (!settled()) this.listeners.push(settled);
    }), what, ms);
  }

  /** The first frame of this type (and id) from index `from` on. */
  frame(type: string, id?: string, from = 0): Promise<any> {
    return this.until(`a ${type} frame${id ? ` for ${id}` : ''}`, () =>
      this.frames.slice(from).find((f) => f.type === type && (id === undefined || f.id === id)));
  }

  /** Sends a subscribe frame and waits for its answer: subscribed, or throws with the error frame. */
  async subscribe(id: string, fields: object = {}): Promise<{ subscriptionId: string; cursor: string; resumeCursor: string }> {
    const from = this.frames.length;
    this.send({ type: 'subscribe', id, ...fields });
    const answer = await this.until(`the answer to subscribe ${id}`, () =>
      this.frames.slice(from).find((f) => f.id === id && (f.type === 'subscribed' || f.type === 'error')));
    if (answer.type === 'error') throw new Error(`subscribe ${id} failed: ${JSON.stringify(answer.error)}`);
    return answer;
  }

  /** Every event received for subscription `id`, in arrival order. */
  events(id: string): any[] {
    return this.frames.filter((f) => f.type === 'events' && f.id === id).flatMap((f) => f.events);
  }

  eventsUntil(id: string, n: number, ms?: number): Promise<any[]> {
    return this.until(`${n} events for ${id} (have ${this.events(id).length})`, () => {
      const events = this.events(id);
      return events.length >= n ? events : undefined;
    }, ms);
  }

  closed(ms?: number): Promise<{ code: number; reason: string }> {
    return within(new Promise((resolve) => {
      const settled = (): boolean => {
        if (this.closeCode === undefined) return false;
        resolve({ code: this.closeCode, reason: this.closeReason ?? '' });
        return true;
      };
      if (!settled()) this.listeners.push(settled);
    }), 'the socket to close', ms);
  }

  close(): void {
    this.socket.terminate();
  }

  private notify(): void {
    this.listeners = this.listeners.filter((settled) => !settled());
  }
}
