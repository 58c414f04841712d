import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type CallOptions, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  type AuditServiceClient, CreateWebhookRequest, type CreateWebhookResponse, type DeleteWebhookResponse, type ListWebhookDeadLettersResponse,
  type ListWebhooksResponse, type PauseWebhookResponse, type RedriveWebhookDeadLettersResponse, type ResumeWebhookResponse,
} from '../../generated/audit/v1/audit_service.js';
import { within } from './server.js';

/**
 * The README's verification snippet, verbatim in behaviour: HMAC-SHA256 over "<timestamp>.<body>"
 * with the webhook's secret, compared in constant time with the v1 signature, and a timestamp no
 * older than `toleranceSeconds`.
 */
export function verifyWebhook(secret: string, headers: IncomingHttpHeaders, body: string, toleranceSeconds = 300): boolean {
  const timestamp = String(headers['webhook-timestamp'] ?? '');
  const signatures = String(headers['webhook-signature'] ?? '').split(', ');
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
  return signatures.some((s) => {
    const given = Buffer.from(s.startsWith('v1=') ? s.slice(3) : '', 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** What the receiver does with one request. */
export type Behaviour =
  | { readonly kind: 'ok' }
  | { readonly kind: 'status'; readonly status: number }
  /** Reads the body, never answers (the service's timeout gives up). */
  | { readonly kind: 'hang' }
  /** Reads the body, answers 200 after `ms` (later than the service waits). */
  | { readonly kind: 'late'; readonly ms: number }
  /** Reads `bytes` of the body every `everyMs`, then answers 200. */
  | { readonly kind: 'slow'; readonly bytes: number; readonly everyMs: number };

export interface Received {
  readonly index: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The events, as JSON objects (sequence a decimal string, as proto JSON writes it). */
  readonly events: Array<Record<string, any>>;
  readonly behaviour: Behaviour['kind'];
  readonly verified: boolean;
  /** A 2xx answer was written to a connection still open: the service can have seen it. */
  acknowledged: boolean;
}

/**
 * A real node:http receiver for webhook tests. `behave` decides each request's fate by its index;
 * `down()` stops listening (connections refused) and `up()` listens again on the same port.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  behave: (index: number) => Behaviour = () => ({ kind: 'ok' });
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private listeners: Array<() => boolean> = [];
  private port = 0;

  private constructor(private readonly secret: string) {
    this.server = this.makeServer();
  }

  static async start(secret: string): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(secret);
    await r.up();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Every event of every request, in arrival order (duplicates included), as sequences. */
  arrivals(): number[] {
    return this.received.flatMap((r) => r.events.map((e) => Number(e.sequence)));
  }

  /** The sequences in the order they first arrived. */
  firstArrivals(): number[] {
    return [...new Set(this.arrivals())];
  }

  /**
   * Events that arrived again after a request holding them was acknowledged, except those in
   * `allowed`: the at-least-once contract allows a repeat only when the service did not see the 2xx.
   */
  repeatsAfterAck(allowed: ReadonlySet<number> = new Set()): number[] {
    const acked = new Set<number>();
    const bad: number[] = [];
    for (const r of this.received) {
      for (const e of r.events) {
        const seq = Number(e.sequence);
        if (acked.has(seq) && !allowed.has(seq)) bad.push(seq);
      }
      if (r.acknowledged) for (const e of r.events) acked.add(Number(e.sequence));
    }
    return bad;
  }

  /** Resolves once `check` holds, re-checked after every request; fails after `ms`. */
  until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
    return within(new Promise<void>((resolve) => {
      const settled = (): boolean => {
        if (!check()) return false;
        resolve();
        return true;
      };
      if (!settled()) this.listeners.push(settled);
    }), `${what} (${this.received.length} requests so far)`, ms);
  }

  /** Stops listening and cuts open connections: requests are refused until up(). */
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async up(): Promise<void> {
    this.server = this.makeServer();
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    return this.down();
  }

  private makeServer(): Server {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const index = this.received.length;
    const behaviour = this.behave(index);
    let body: string;
    try {
      body = await readBody(req, behaviour);
    } catch {
      return; // the service gave up during the upload (its timeout): nothing arrived
    }
    const events = (JSON.parse(body) as { events: Array<Record<string, any>> }).events;
    const entry: Received = { index, headers: req.headers, body, events, behaviour: behaviour.kind, verified: verifyWebhook(this.secret, req.headers, body), acknowledged: false };
    this.received.push(entry);
    res.on('finish', () => {
      entry.acknowledged = res.statusCode >= 200 && res.statusCode < 300 && !res.socket?.destroyed;
      this.notify();
    });
    const answer = (status: number): void => {
      if (!res.destroyed && !req.socket.destroyed) res.writeHead(status).end();
    };
    switch (behaviour.kind) {
      case 'status': answer(behaviour.status); break;
      case 'hang': break;
      case 'late': setTimeout(() => answer(200), behaviour.ms); break;
      default: answer(200);
    }
    this.notify();
  }

  private notify(): void {
    this.listeners = this.listeners.filter((settled) => !settled());
  }
}

/** The body, read at once, or `bytes` every `everyMs` for a slow reader. */
function readBody(req: IncomingMessage, behaviour: Behaviour): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('aborted')));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    if (behaviour.kind !== 'slow') {
      req.on('data', (c: Buffer) => chunks.push(c));
      return;
    }
    const tick = (): void => {
      const chunk = req.read(behaviour.bytes) as Buffer | null ?? req.read() as Buffer | null;
      if (chunk) chunks.push(chunk);
      if (!req.readableEnded) setTimeout(tick, behaviour.everyMs);
    };
    req.on('readable', () => undefined); // switch to paused mode: we read by hand
    tick();
  });
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
const promised = <Res>(start: (cb: Callback<Res>) => unknown): Promise<Res> =>
  new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));

/** The webhook RPCs as promises (per-call credentials optional, e.g. a bearer token). */
export function webhookApi(client: AuditServiceClient, options: Partial<CallOptions> & { metadata?: Metadata } = {}) {
  const md = options.metadata ?? new Metadata();
  return {
    create: (req: Partial<CreateWebhookRequest>) => promised<CreateWebhookResponse>((cb) => client.createWebhook(CreateWebhookRequest.fromPartial(req), md, cb)),
    list: () => promised<ListWebhooksResponse>((cb) => client.listWebhooks({}, md, cb)),
    pause: (webhook: string) => promised<PauseWebhookResponse>((cb) => client.pauseWebhook({ webhook }, md, cb)),
    resume: (webhook: string) => promised<ResumeWebhookResponse>((cb) => client.resumeWebhook({ webhook }, md, cb)),
    delete: (webhook: string) => promised<DeleteWebhookResponse>((cb) => client.deleteWebhook({ webhook }, md, cb)),
    deadLetters: (webhook: string, limit = 0, pageToken = '') =>
      promised<ListWebhookDeadLettersResponse>((cb) => client.listWebhookDeadLetters({ webhook, limit, pageToken }, md, cb)),
    redrive: (webhook: string, sequences: number[] = [], limit = 0) =>
      promised<RedriveWebhookDeadLettersResponse>((cb) => client.redriveWebhookDeadLetters({ webhook, sequences, limit }, md, cb)),
    /** One webhook's status, by name. */
    async status(name: string) {
      const found = (await this.list()).webhooks.find((w) => w.name === name);
      if (!found?.status) throw new Error(`no webhook ${name}`);
      return found.status;
    },
  };
}

/** webhooks.defaults for tests: no linger, short timeout, quick retries, a quick circuit. */
export function fastWebhooks(overrides: Record<string, unknown> = {}) {
  return { linger: 0, timeout: 300, max_retries: 50, retry_delay: 5, retry_backoff: 40, circuit_breaker: { threshold: 5, half_open_after: 100 }, ...overrides };
}
