import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentials, makeGenericClientConstructor, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import {
  AuditServiceClient, type Filter, type GetStatsResponse, type GetSubscriptionStatsResponse, type ListSubscriptionsResponse,
  type PublishBatchRequest, type PublishBatchResponse, type PublishRequest, type PublishResponse, type SubscribeRequest,
  type SubscribeResponse, type UnsubscribeResponse,
} from '../../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType, Severity } from '../../generated/audit/v1/event.js';
import { App, type AppParts } from '../../src/app.js';
import { parseConfig, type ConfigInput } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';

export interface TestServer {
  readonly app: App;
  readonly client: AuditServiceClient;
  readonly api: ReturnType<typeof api>;
  readonly address: string;
  /** The HTTP bridges (WebSocket, SSE, viewer), e.g. http://127.0.0.1:41234 */
  readonly httpUrl: string;
  close(): Promise<void>;
}

/** Starts the real service on 127.0.0.1:0 with the given config and a real grpc-js client to it. */
export async function startServer(config: ConfigInput = {}, parts: AppParts = {}): Promise<TestServer> {
  const full = parseConfig({
    ...config,
    server: { host: '127.0.0.1', grpc_port: 0, http_port: 0, ...config.server },
    logging: { level: 'silent', ...config.logging },
    // The real default, the SQLite log, in a fresh folder per server.
    storage: { path: path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-test-')), 'audit.db'), ...config.storage },
  });
  const app = await App.start(full, { logger: createLogger('silent'), ...parts });
  const address = `127.0.0.1:${app.grpcPort}`;
  const client = new AuditServiceClient(address, credentials.createInsecure());
  return {
    app, client, address, api: api(client), httpUrl: `http://127.0.0.1:${app.httpPort}`,
    async close() {
      client.close();
      await app.shutdown();
    },
  };
}

/** Runs `body` against a fresh server, closing it whatever happens. */
export async function withServer(config: ConfigInput, body: (s: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer(config);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

function promised<Res>(start: (cb: Callback<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

/** The unary RPCs as promises. */
export function api(client: AuditServiceClient) {
  return {
    publish: (req: PublishRequest) => promised<PublishResponse>((cb) => client.publish(req, cb)),
    publishBatch: (req: PublishBatchRequest) => promised<PublishBatchResponse>((cb) => client.publishBatch(req, cb)),
    unsubscribe: (subscriptionId: string) => promised<UnsubscribeResponse>((cb) => client.unsubscribe({ subscriptionId }, cb)),
    getStats: () => promised<GetStatsResponse>((cb) => client.getStats({}, cb)),
    subscriptionStats: (subscriptionId: string) =>
      promised<GetSubscriptionStatsResponse>((cb) => client.getSubscriptionStats({ subscriptionId }, cb)),
    listSubscriptions: () => promised<ListSubscriptionsResponse>((cb) => client.listSubscriptions({}, cb)),
  };
}

export function publish(client: AuditServiceClient, event: Partial<AuditEvent>) {
  return api(client).publish({ event: makeEvent(event) });
}

/** The gRPC health status ('SERVING', 'NOT_SERVING') of the server at `address` ('' = the whole server). */
export function healthStatus(address: string, service = ''): Promise<string> {
  const Health = makeGenericClientConstructor(healthService, 'Health');
  const client = new Health(address, credentials.createInsecure()) as unknown as {
    check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
    close(): void;
  };
  return new Promise<string>((resolve, reject) => client.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))))
    .finally(() => client.close());
}

/** A filter with the given fields set and every other field empty (matching anything). */
export function filterOf(fields: Partial<Filter> = {}): Filter {
  return {
    eventTypes: [], categories: [], severities: [], minSeverity: 0, entityTypes: [], entityIds: [], userIds: [], expression: '', timeRange: undefined,
    ...fields,
  };
}

let counter = 0;
/** A valid event with the given fields; a fresh entity id unless one is given. */
export function makeEvent(fields: Partial<AuditEvent> = {}): AuditEvent {
  counter++;
  return AuditEvent.fromPartial({
    type: EventType.EVENT_TYPE_CALL_CREATED,
    severity: Severity.SEVERITY_INFO,
    action: 'create',
    entityType: 'call',
    entityId: `call-${counter}`,
    userId: 'user-1',
    ...fields,
  });
}

/** Waits for `promise`, failing with `what` after `ms`. No sleeps: this bounds a wait for an event. */
export function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` (every few ms) until it returns a value; for states only visible through stats RPCs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Reads a Subscribe stream, collecting what arrives, with promises for what a test waits on. */
export class StreamReader {
  readonly messages: SubscribeResponse[] = [];
  readonly events: AuditEvent[] = [];
  status?: ServiceError | 'OK';
  private listeners: Array<() => boolean> = [];

  constructor(readonly call: ClientReadableStream<SubscribeResponse>) {
    call.on('data', (m: SubscribeResponse) => {
      this.messages.push(m);
      if (m.kind?.$case === 'events') this.events.push(...m.kind.events.events);
      this.notify();
    });
    call.on('error', (err: ServiceError) => {
      this.status = err;
      this.notify();
    });
    call.on('end', () => {
      this.status ??= 'OK';
      this.notify();
    });
  }

  static open(client: AuditServiceClient, request: Partial<SubscribeRequest>): StreamReader {
    return new StreamReader(client.subscribe({ clientName: 'test', filter: undefined, afterCursor: '', ...request }));
  }

  /** Resolves with check()'s first defined value as messages arrive; fails if the stream ends first. */
  until<T>(what: string, check: () => T | undefined, ms = 5000): Promise<T> {
    return within(new Promise<T>((resolve, reject) => {
      const settled = (): boolean => {
        const value = check();
        if (value !== undefined) resolve(value);
        else if (this.status !== undefined) reject(new Error(`stream ended (${this.describeStatus()}) before ${what}`));
        else return false;
        return true;
      };
      if (!settled()) this.listeners.push(settled);
    }), what, ms);
  }

  /** The subscription id from the first message. */
  started(): Promise<{ subscriptionId: string; cursor: number }> {
    return this.until('the started message', () => {
      const first = this.messages[0];
      return first?.kind?.$case === 'started' ? first.kind.started : undefined;
    });
  }

  /** Resolves with the first `n` events once they have arrived. */
  eventsUntil(n: number, ms?: number): Promise<AuditEvent[]> {
    return this.until(`${n} events (have ${this.events.length})`, () => (this.events.length >= n ? this.events.slice(0, n) : undefined), ms);
  }

  ended(ms?: number): Promise<ServiceError | 'OK'> {
    return this.until('the stream to end', () => this.status, ms);
  }

  cancel(): void {
    this.call.cancel();
  }

  private describeStatus(): string {
    return this.status === 'OK' ? 'OK' : `${this.status?.code} ${this.status?.details}`;
  }

  private notify(): void {
    this.listeners = this.listeners.filter((settled) => !settled());
  }
}
