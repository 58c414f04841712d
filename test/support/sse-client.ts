import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { within } from './server.js';

/** One Server-Sent Events message block as it came over the wire. */
export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly comments: string[];
}

/** A real HTTP client of the SSE endpoint that parses the stream as a browser would. */
export class SseClient {
  readonly messages: SseMessage[] = [];
  ended = false;
  private buffer = '';
  private listeners: Array<() => boolean> = [];

  private constructor(readonly request: ClientRequest, readonly response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.receive(chunk));
    response.on('end', () => this.finish());
    response.on('error', () => this.finish());
  }

  /** Opens the stream; resolves once the response headers are in. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return within(new Promise((resolve, reject) => {
      const request = get(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => resolve(new SseClient(request, response)));
      request.on('error', reject);
    }), `a response from ${url}`);
  }

  /** The parsed data of every audit event (messages with an id and data but no event name). */
  events(): any[] {
    return this.messages.filter((m) => m.event === undefined && m.data !== undefined).map((m) => JSON.parse(m.data!));
  }

  eventsUntil(n: number, ms?: number): Promise<any[]> {
    return this.until(`${n} events (have ${this.events().length})`, () => (this.events().length >= n ? this.events() : undefined), ms);
  }

  /** Resolves with check()'s first defined value as messages arrive; fails if the stream ends first. */
  until<T>(what: string, check: () => T | undefined, ms = 5000): Promise<T> {
    return within(new Promise<T>((resolve, reject) => {
      const settled = (): boolean => {
        const value = check();
        if (value !== undefined) resolve(value);
        else if (this.ended) reject(new Error(`stream ended before ${what}`));
        else return false;
        return true;
      };
      if (!settled()) this.listeners.push(settled);
    }), what, ms);
  }

  /** Resolves when the server has ended the response. */
  endOfStream(ms?: number): Promise<void> {
    return within(new Promise<void>((resolve) => {
      const settled = (): boolean => (this.ended ? (resolve(), true) : false);
      if (!settled()) this.listeners.push(settled);
    }), 'the end of the stream', ms);
  }

  close(): void {
    this.request.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const message: { id?: string; event?: string; data?: string; comments: string[] } = { comments: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) message.comments.push(line.slice(1).trim());
        const match = /^(id|event|data|retry): ?(.*)$/.exec(line);
        if (match && match[1] !== 'retry') message[match[1] as 'id' | 'event' | 'data'] = match[2];
      }
      this.messages.push(message);
    }
    this.notify();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    this.listeners = this.listeners.filter((settled) => !settled());
  }
}
