/**
 * Bench worker: one publisher process with one gRPC channel to the server under test.
 * Commands (IPC): connect {address}; run {mode, ...}; close.
 * - unary / batch: closed loop, `inFlight` calls outstanding at all times, for warmupMs + durationMs;
 *   counts the events acknowledged during the measured window.
 * - count: publishes `total` events with PublishBatch(`batch`), `inFlight` calls outstanding (fan-out).
 * - rate: a fixed `rate` (events/s) for durationMs, open loop, paced on a `tickMs` grid (latency); see rateRun.
 */
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { PublishBatchResponse } from '../../generated/audit/v1/audit_service.js';
import { encodePublishBatchRequest, encodePublishRequest } from '../support/events.js';
import { monoMicros, percentile } from '../support/stats.js';
import { scanPublishBatchResponse } from '../support/wire.js';
import { reply, serveParent } from '../support/worker-ipc.js';

const CALL_DEADLINE_MS = 30_000;

let client: Client | undefined;
let nextIndex = 0;
const errors = new Map<string, number>();
let errorSample = '';

function noteError(err: ServiceError): void {
  const key = String(err.code);
  errors.set(key, (errors.get(key) ?? 0) + 1);
  errorSample ||= `${err.code} ${err.details ?? err.message}`;
}

function options(): { deadline: number } {
  return { deadline: Date.now() + CALL_DEADLINE_MS };
}

const identity = (b: Buffer): Buffer => b;

/** Resolves with the number of events acknowledged (0 on error). Requests are pre-encoded (support/events.ts). */
function publishOne(index: number): Promise<number> {
  return new Promise((resolve) => {
    client!.makeUnaryRequest('/audit.v1.AuditService/Publish', identity, identity, encodePublishRequest(index), new Metadata(), options(), (err) => {
      if (err) noteError(err);
      resolve(err ? 0 : 1);
    });
  });
}

function publishBatch(first: number, size: number): Promise<number> {
  const request = encodePublishBatchRequest(first, size);
  return new Promise((resolve) => {
    client!.makeUnaryRequest('/audit.v1.AuditService/PublishBatch', identity, identity, request, new Metadata(), options(), (err, res) => {
      if (err || !res) {
        if (err) noteError(err);
        return resolve(0);
      }
      const { accepted, rejected } = scanPublishBatchResponse(res);
      if (rejected > 0) {
        errors.set('rejected', (errors.get('rejected') ?? 0) + rejected);
        const firstError = PublishBatchResponse.decode(res).results.find((r) => r.outcome?.$case === 'error');
        if (firstError?.outcome?.$case === 'error') errorSample ||= `${firstError.outcome.error.code} ${firstError.outcome.error.message}`;
      }
      resolve(accepted);
    });
  });
}

function errorSummary(): { errors: number; errorCodes: Record<string, number>; errorSample: string } {
  let total = 0;
  for (const n of errors.values()) total += n;
  return { errors: total, errorCodes: Object.fromEntries(errors), errorSample };
}

interface ClosedLoop {
  readonly mode: 'unary' | 'batch';
  readonly inFlight: number;
  readonly batch: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

async function closedLoop(run: ClosedLoop): Promise<void> {
  const start = performance.now();
  const measureFrom = start + run.warmupMs;
  const end = measureFrom + run.durationMs;
  let events = 0;
  let calls = 0;
  const ackMs: number[] = [];
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      const sent = performance.now();
      const size = run.mode === 'unary' ? 1 : run.batch;
      const index = nextIndex;
      nextIndex += size;
      const acked = run.mode === 'unary' ? await publishOne(index) : await publishBatch(index, size);
      const done = performance.now();
      if (sent >= measureFrom && done <= end) {
        events += acked;
        calls++;
        ackMs.push(done - sent);
      }
    }
  };
  await Promise.all(Array.from({ length: run.inFlight }, lane));
  ackMs.sort((a, b) => a - b);
  reply({
    type: 'result', events, calls, seconds: run.durationMs / 1000, eventsPerSecond: events / (run.durationMs / 1000),
    ackP50Ms: percentile(ackMs, 50), ackP99Ms: percentile(ackMs, 99), ...errorSummary(),
  });
}

interface CountRun {
  readonly total: number;
  readonly batch: number;
  readonly inFlight: number;
}

async function countRun(run: CountRun): Promise<void> {
  let next = 0;
  let published = 0;
  const firstSendUs = monoMicros();
  const lane = async (): Promise<void> => {
    while (next < run.total) {
      const first = next;
      const size = Math.min(run.batch, run.total - first);
      next += size;
      const acked = await publishBatch(first, size); // not `published += await ...`: that reads `published` before awaiting
      published += acked;
    }
  };
  await Promise.all(Array.from({ length: run.inFlight }, lane));
  const lastAckUs = monoMicros();
  reply({ type: 'result', published, firstSendUs, lastAckUs, ...errorSummary() });
}

interface RateRun {
  readonly rate: number;
  readonly durationMs: number;
  readonly maxInFlight: number;
  /** The pacing grid: at most one call per tickMs. */
  readonly tickMs: number;
  /** Schedule lag is kept for events with index >= warmupIndex (those the latency figure keeps). */
  readonly warmupIndex: number;
}

/**
 * Open loop at a fixed event rate, paced on a fixed grid: tick k is due at start + k * tickMs (each
 * timer is set for the next grid point still ahead, so neither a tick's own work nor a late timer
 * stretches the period), and each tick sends the events due so far in one call (Publish when one is
 * due, PublishBatch when several are). A grid rather than "1 ms after the previous tick" bounds the
 * calls per second: a grpc-js unary call, with its answer, costs the publisher about 1 ms of CPU on
 * the bench machine, and on two cores every publisher cycle is taken from the server under test.
 * Each event's send stamp is taken when its call is made; how late that is against the event's own
 * due time (start + index / rate) is reported as the schedule lag, the wait the latency leaves out.
 */
async function rateRun(run: RateRun): Promise<void> {
  const total = Math.round((run.rate * run.durationMs) / 1000);
  const pending = new Set<Promise<number>>();
  const lagMs: number[] = [];
  let sent = 0;
  let acked = 0;
  let calls = 0;
  let waitedForInFlight = 0;
  const firstSendUs = monoMicros();
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * run.rate) / 1000) + 1);
      if (due > sent) {
        if (pending.size >= run.maxInFlight) waitedForInFlight++;
        else {
          const size = Math.min(due - sent, 1000);
          for (let i = Math.max(sent, run.warmupIndex); i < sent + size; i++) lagMs.push(now - start - (i * 1000) / run.rate);
          const p = (size === 1 ? publishOne(sent) : publishBatch(sent, size)).then((n) => {
            acked += n;
            pending.delete(p);
            return n;
          });
          pending.add(p);
          sent += size;
          calls++;
        }
      }
      if (sent >= total) return resolve();
      const nextTick = Math.floor((performance.now() - start) / run.tickMs) + 1;
      setTimeout(tick, start + nextTick * run.tickMs - performance.now());
    };
    tick();
  });
  const lastSendUs = monoMicros();
  await Promise.all(pending);
  const seconds = (lastSendUs - firstSendUs) / 1e6;
  lagMs.sort((a, b) => a - b);
  reply({
    type: 'result', sent, acked, calls, lastSendUs, achievedRate: sent / Math.max(seconds, 1e-9), waitedForInFlight,
    scheduleLagP99Ms: percentile(lagMs, 99), ...errorSummary(),
  });
}

serveParent(async (m) => {
  if (m.type === 'connect') {
    client = new Client(String(m.address), credentials.createInsecure(), {
      'grpc.max_send_message_length': 8 * 1024 * 1024,
    });
    await new Promise<void>((resolve, reject) =>
      client!.waitForReady(Date.now() + 20_000, (err) => (err ? reject(err) : resolve())));
    reply({ type: 'ready' });
  } else if (m.type === 'run') {
    errors.clear();
    errorSample = '';
    if (m.mode === 'unary' || m.mode === 'batch') await closedLoop(m as unknown as ClosedLoop);
    else if (m.mode === 'count') await countRun(m as unknown as CountRun);
    else if (m.mode === 'rate') await rateRun(m as unknown as RateRun);
    else throw new Error(`unknown mode ${String(m.mode)}`);
  } else if (m.type === 'close') {
    client?.close();
    process.exit(0);
  }
});
