/**
 * Soak: does memory come back after churn? Not part of `npm run bench` or the tests; run it by itself:
 *
 *   npx tsx bench/soak.ts [--minutes 3] [--rate 500] [--steady 50] [--churn 10] [--settle 30]
 *
 * Starts `auditstream serve` in its own process (bench/support/target.ts: SQLite log in a temporary
 * folder, a probe that can force two full GCs and read process.memoryUsage()), then for --minutes:
 * publishes --rate events/s (PublishBatch every 100 ms), keeps --steady subscribers reading (gRPC,
 * WebSocket and SSE; a third match everything), and churns --churn subscriptions per second over the
 * three transports: open (live, or a replay from a few thousand events back), read a little, then go
 * away (gRPC cancel, WebSocket close or terminate, SSE socket destroyed). Every 5 s it reads the
 * server's /metrics (RSS, heap used, event-loop lag p99 since the previous read), times a /healthz,
 * and every 30 s forces GCs through the probe for the retained heap. At the end it stops everything,
 * waits for the server to report no subscriptions, waits --settle seconds, forces GCs, and prints
 * slopes (MB/min, least squares over the load phase after its first 30 s) and the end state against
 * the idle baseline taken right after start.
 */
import { Client, credentials, type ClientReadableStream } from '@grpc/grpc-js';
import { get, request, type ClientRequest } from 'node:http';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { AuditServiceClient, SubscribeRequest, type GetStatsResponse } from '../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType, Severity } from '../generated/audit/v1/event.js';
import { installCleanup } from './support/processes.js';
import { startTarget, type ProcessMemory, type Target } from './support/target.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    rate: { type: 'string', default: '500' },
    steady: { type: 'string', default: '50' },
    churn: { type: 'string', default: '10' },
    settle: { type: 'string', default: '30' },
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const STEADY = Number(args.steady);
const CHURN_PER_SECOND = Number(args.churn);
const SETTLE_S = Number(args.settle);
const SAMPLE_MS = 5_000;
const GC_SAMPLE_MS = 30_000;
const WARMUP_MS = 30_000;
const MB = 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number): string => (bytes / MB).toFixed(1);

interface Sample {
  readonly t: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly lagP99Ms: number;
  readonly healthMs: number;
}

/** An open subscription on any transport, and how to abandon it. */
interface Handle {
  readonly transport: 'grpc' | 'websocket' | 'sse';
  bytes: number;
  close(): void;
}

class Soak {
  readonly client: AuditServiceClient;
  readonly raw: Client;
  readonly base: string;
  readonly counts = { published: 0, publishErrors: 0, churned: { grpc: 0, websocket: 0, sse: 0 }, received: 0, maxAckMs: 0 };
  private readonly open = new Set<Handle>();
  private seq = 0;
  lastSequence = 0;

  constructor(readonly target: Target) {
    this.client = new AuditServiceClient(target.address, credentials.createInsecure());
    this.raw = new Client(target.address, credentials.createInsecure());
    this.base = `http://127.0.0.1:${target.httpPort}`;
  }

  stats(): Promise<GetStatsResponse> {
    return new Promise((resolve, reject) => this.client.getStats({}, (err, res) => (err ? reject(err) : resolve(res))));
  }

  async publishTick(n: number): Promise<void> {
    const events = Array.from({ length: n }, () => {
      const i = this.seq++;
      return AuditEvent.fromPartial({
        type: [EventType.EVENT_TYPE_CALL_CREATED, EventType.EVENT_TYPE_BID_CREATED, EventType.EVENT_TYPE_LOGIN_FAILED][i % 3],
        severity: Severity.SEVERITY_INFO, action: 'create', entityType: 'call', entityId: `call-${i % 5000}`, userId: `user-${i % 100}`,
        metadata: { amount: i % 1000, region: 'eu-west', note: `soak event ${i}` }, source: 'soak',
      });
    });
    const start = performance.now();
    await new Promise<void>((resolve) => this.client.publishBatch({ events }, (err, res) => {
      if (err) this.counts.publishErrors++;
      else {
        this.counts.published += n;
        for (const r of res.results) {
          const seq = r.outcome?.$case === 'stored' ? r.outcome.stored.sequence : 0;
          if (seq > this.lastSequence) this.lastSequence = seq;
        }
      }
      resolve();
    }));
    this.counts.maxAckMs = Math.max(this.counts.maxAckMs, performance.now() - start);
  }

  /** gRPC Subscribe with the responses left as bytes (the bench counts them, it does not decode). */
  grpc(request: Partial<SubscribeRequest>): Handle {
    const call: ClientReadableStream<Buffer> = this.raw.makeServerStreamRequest(
      '/audit.v1.AuditService/Subscribe',
      (r: SubscribeRequest) => Buffer.from(SubscribeRequest.encode(r).finish()),
      (b: Buffer) => b,
      SubscribeRequest.fromPartial({ clientName: 'soak', ...request }),
    );
    const handle: Handle = { transport: 'grpc', bytes: 0, close: () => call.cancel() };
    call.on('data', (b: Buffer) => this.received(handle, b.length));
    call.on('error', () => this.open.delete(handle));
    call.on('end', () => this.open.delete(handle));
    return this.track(handle);
  }

  websocket(frame: object, terminate: boolean): Handle {
    const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}/v1/stream`);
    const handle: Handle = { transport: 'websocket', bytes: 0, close: () => (terminate ? ws.terminate() : ws.close(1000)) };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 's', ...frame })));
    ws.on('message', (data: Buffer) => this.received(handle, data.length));
    ws.on('error', () => {});
    ws.on('close', () => this.open.delete(handle));
    return this.track(handle);
  }

  sse(query: string): Handle {
    let req: ClientRequest | undefined = undefined;
    const handle: Handle = { transport: 'sse', bytes: 0, close: () => req?.destroy() };
    req = get(`${this.base}/v1/events${query}`, { headers: { accept: 'text/event-stream' } }, (res) => {
      res.on('data', (chunk: Buffer) => this.received(handle, chunk.length));
      res.on('error', () => {});
      res.on('close', () => this.open.delete(handle));
    });
    req.on('error', () => this.open.delete(handle));
    return this.track(handle);
  }

  /** One churned subscription: open, read for a while, go away. */
  async churnOnce(k: number): Promise<void> {
    const transport = (['grpc', 'websocket', 'sse'] as const)[k % 3];
    // Most start live; one in four replays from a few thousand events back and is abandoned mid-way.
    const replay = k % 4 === 0 ? Math.max(0, this.lastSequence - 5_000) : undefined;
    const matchAll = k % 2 === 0;
    let handle: Handle;
    if (transport === 'grpc') {
      handle = this.grpc({ afterSequence: replay, filter: matchAll ? undefined : { ...emptyFilter(), eventTypes: [EventType.EVENT_TYPE_BID_CREATED] } });
    } else if (transport === 'websocket') {
      handle = this.websocket({ ...(replay === undefined ? {} : { afterSequence: replay }), ...(matchAll ? {} : { filter: { eventTypes: ['BID_CREATED'] } }) }, k % 6 === 1);
    } else {
      const params = [replay === undefined ? '' : `after_sequence=${replay}`, matchAll ? '' : 'event_types=BID_CREATED'].filter(Boolean).join('&');
      handle = this.sse(params ? `?${params}` : '');
    }
    await sleep(200 + ((k * 7919) % 1_300));
    handle.close();
    this.open.delete(handle);
    this.counts.churned[transport]++;
  }

  closeAll(): void {
    for (const h of [...this.open]) h.close();
    this.open.clear();
  }

  private track(handle: Handle): Handle {
    this.open.add(handle);
    return handle;
  }

  private received(handle: Handle, bytes: number): void {
    handle.bytes += bytes;
    this.counts.received += bytes;
  }
}

function emptyFilter() {
  return { eventTypes: [], categories: [], severities: [], minSeverity: 0, entityTypes: [], entityIds: [], userIds: [], expression: '', timeRange: undefined };
}

function httpGet(url: string): Promise<{ ms: number; body: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ms: performance.now() - start, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

async function sample(soak: Soak, t0: number): Promise<Sample> {
  const health = await httpGet(`${soak.base}/healthz`);
  const { body } = await httpGet(`${soak.base}/metrics`);
  return {
    t: Date.now() - t0,
    rss: metric(body, 'process_resident_memory_bytes'),
    heapUsed: metric(body, 'nodejs_heap_size_used_bytes'),
    lagP99Ms: metric(body, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    healthMs: health.ms,
  };
}

/** Least-squares slope of value over time, per minute. */
function slopePerMinute(points: ReadonlyArray<{ t: number; v: number }>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mv = points.reduce((s, p) => s + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return (num / den) * 60_000;
}

function percentileOf(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  installCleanup();
  const target = await startTarget('auditstream', { http: true });
  const soak = new Soak(target);
  const t0 = Date.now();
  try {
    await sleep(2_000);
    const idle = await target.memory();
    const idleSample = await sample(soak, t0);
    console.log(`idle: rss ${mb(idle.rss)} MB, heap used ${mb(idle.heapUsed)} MB (after GC); /metrics rss ${mb(idleSample.rss)} MB`);

    let running = true;
    const publisher = (async () => {
      for (let next = Date.now(); running; next += 100) {
        await soak.publishTick(Math.max(1, Math.round(RATE / 10)));
        await sleep(Math.max(0, next + 100 - Date.now()));
      }
    })();
    // Steady subscribers: gRPC, WebSocket, SSE in turn; a third match everything, the others one type.
    for (let i = 0; i < STEADY; i++) {
      const all = i % 3 === 0;
      if (i % 3 === 0) soak.grpc({ filter: all ? undefined : { ...emptyFilter(), eventTypes: [EventType.EVENT_TYPE_CALL_CREATED] } });
      else if (i % 3 === 1) soak.websocket(all ? {} : { filter: { eventTypes: ['CALL_CREATED'] } }, false);
      else soak.sse(all ? '' : '?event_types=CALL_CREATED');
    }
    const churners: Array<Promise<void>> = [];
    let k = 0;
    const churn = (async () => {
      for (let next = Date.now(); running; next += 1000 / CHURN_PER_SECOND) {
        const p = soak.churnOnce(k++).catch(() => {});
        churners.push(p);
        void p.finally(() => churners.splice(churners.indexOf(p), 1));
        await sleep(Math.max(0, next + 1000 / CHURN_PER_SECOND - Date.now()));
      }
    })();

    const samples: Sample[] = [];
    const retained: Array<{ t: number; m: ProcessMemory }> = [];
    const loadStart = Date.now();
    const loadEnd = loadStart + MINUTES * 60_000;
    let nextGc = loadStart + GC_SAMPLE_MS;
    while (Date.now() < loadEnd) {
      await sleep(SAMPLE_MS);
      const s = await sample(soak, t0);
      samples.push(s);
      let gcNote = '';
      if (Date.now() >= nextGc) {
        nextGc += GC_SAMPLE_MS;
        const m = await target.memory();
        retained.push({ t: s.t, m });
        gcNote = `  after GC: rss ${mb(m.rss)} heap ${mb(m.heapUsed)}`;
      }
      const stats = await soak.stats();
      const { churned } = soak.counts;
      console.log(`${(s.t / 1000).toFixed(0).padStart(4)} s  rss ${mb(s.rss).padStart(6)} MB  heap ${mb(s.heapUsed).padStart(6)} MB  lag p99 ${s.lagP99Ms.toFixed(0).padStart(5)} ms  healthz ${s.healthMs.toFixed(0).padStart(4)} ms  subs ${stats.activeSubscriptions}  churned ${churned.grpc + churned.websocket + churned.sse}${gcNote}`);
    }
    running = false;
    await publisher;
    await churn;
    await Promise.all([...churners]);
    soak.closeAll();
    const atEnd = await target.memory();
    const drainStart = Date.now();
    let active = -1;
    while (Date.now() - drainStart < 30_000) {
      active = (await soak.stats()).activeSubscriptions;
      if (active === 0) break;
      await sleep(250);
    }
    console.log(`load over: ${active} subscriptions left after ${Date.now() - drainStart} ms; waiting ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    const settled = await target.memory();
    const settledSample = await sample(soak, t0);

    const steadyState = samples.filter((s) => s.t - (loadStart - t0) >= WARMUP_MS);
    const lags = samples.map((s) => s.lagP99Ms);
    const { churned } = soak.counts;
    const totalChurned = churned.grpc + churned.websocket + churned.sse;
    const heapSlope = slopePerMinute(steadyState.map((s) => ({ t: s.t, v: s.heapUsed / MB })));
    const retainedSlope = slopePerMinute(retained.map((r) => ({ t: r.t, v: r.m.heapUsed / MB })));
    console.log('\n## soak summary');
    console.log(`load: ${MINUTES} min, ${soak.counts.published} events published (${soak.counts.publishErrors} failed batches, slowest ack ${soak.counts.maxAckMs.toFixed(0)} ms), ${STEADY} steady subscribers, ${totalChurned} churned (grpc ${churned.grpc}, websocket ${churned.websocket}, sse ${churned.sse}), ${mb(soak.counts.received)} MB received`);
    console.log(`RSS slope (load, after warm-up): ${slopePerMinute(steadyState.map((s) => ({ t: s.t, v: s.rss / MB }))).toFixed(1)} MB/min`);
    console.log(`heap used slope (load, after warm-up): ${heapSlope.toFixed(1)} MB/min; retained (after forced GC): ${retainedSlope.toFixed(1)} MB/min = ${(retainedSlope / ((totalChurned / MINUTES) / 1000)).toFixed(1)} MB per 1,000 churned`);
    console.log(`event-loop p99 per 5 s sample: median ${percentileOf(lags, 50).toFixed(0)} ms, max ${Math.max(...lags).toFixed(0)} ms; samples over 100 ms: ${lags.filter((l) => l > 100).length} of ${lags.length}; slowest /healthz ${Math.max(...samples.map((s) => s.healthMs)).toFixed(0)} ms`);
    console.log(`idle baseline (after GC): rss ${mb(idle.rss)} MB, heap ${mb(idle.heapUsed)} MB`);
    console.log(`end of load (after GC):   rss ${mb(atEnd.rss)} MB, heap ${mb(atEnd.heapUsed)} MB`);
    console.log(`settled ${SETTLE_S} s (GC):   rss ${mb(settled.rss)} MB (+${mb(settled.rss - idle.rss)}), heap ${mb(settled.heapUsed)} MB (+${mb(settled.heapUsed - idle.heapUsed)}), external ${mb(settled.external)} MB, arrayBuffers ${mb(settled.arrayBuffers)} MB; /metrics rss ${mb(settledSample.rss)} MB`);
  } finally {
    soak.client.close();
    soak.raw.close();
    await target.stop();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
