import { performance } from 'node:perf_hooks';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { StoredAuditEvent } from '../domain/event.js';
import type { AppendResult, DeliveryObserver } from '../domain/ports.js';

/** The subscription transports (the `transport` given to Dispatcher.subscribe by each bridge). */
export const TRANSPORTS = ['grpc', 'websocket', 'sse'] as const;

/** Live latency buckets, seconds: loopback deliveries take tens to hundreds of microseconds. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How many recent sequences keep their store time (2 x 8 bytes each). */
const STORE_TIMES = 1 << 16;

/**
 * The delivery metrics, observed as they happen (once per written batch): deliveries per transport
 * and the live latency from stored to written. Its own object, given to the dispatcher when it is
 * made, while the metrics read at scrape time (metrics.ts) need the dispatcher made first.
 */
export class DeliveryMetrics implements DeliveryObserver {
  private readonly sends: Counter<'transport'>;
  private readonly latency: Histogram<'transport'>;
  /** performance.now() when each of the last STORE_TIMES sequences was reported stored, by sequence % STORE_TIMES. */
  private readonly storedAt = new Float64Array(STORE_TIMES);
  private readonly storedSequence = new Float64Array(STORE_TIMES).fill(-1);

  constructor(registry: Registry) {
    const registers = [registry];
    const transports = TRANSPORTS.map((transport) => ({ transport }));
  this.sends = new Counter({ name: 'auditstream_deliveries_total', help: 'Events written to subscribers, by transport (live and replayed).', labelNames: ['transport'], registers });
  this.latency = new Histogram({
    name: 'auditstream_delivery_latency_seconds',
    help: 'Stored -> written to a live subscriber, per written batch (its oldest event). Replay and catch-up are not observed.',
    labelNames: ['transport'], registers,
    buckets: LATENCY_BUCKETS,
  });
  for (const labels of transports) {
    this.sends.inc(labels, 0);
    this.latency.zero(labels);
  }
  }

  /**
   * Notes when each event was stored, with sub-millisecond resolution (receivedAt is a Date: whole
   * milliseconds). The dispatcher reports a group commit after offering its events to the live
   * subscriptions and before any of them can be written (writes run in later microtasks).
   */
  stored(results: readonly AppendResult[]): void {
    const now = performance.now();
    for (const { event, duplicate } of results) {
      if (duplicate) continue; // the original's sequence: already noted
      const slot = event.sequence % STORE_TIMES;
      this.storedAt[slot] = now;
      this.storedSequence[slot] = event.sequence;
    }
  }

  /**
   * Counts every write; observes latency only for live writes (routed as stored, not read back from the
   * log). Replay and catch-up are left out of the histogram rather than labelled: their "latency" is the
   * age of the history read (a replay from last week would observe 604800 s), which says nothing about
   * how fast the service delivers, and a mode="catch-up" series would sit in every sum() and
   * histogram_quantile() that forgets to exclude it. How much is replayed shows in deliveries_total.
   */
  delivered(transport: string, count: number, oldest: StoredAuditEvent | undefined): void {
    this.sends.inc({ transport }, count);
    if (!oldest) return;
    const slot = oldest.sequence % STORE_TIMES;
    const storedAt = this.storedSequence[slot] === oldest.sequence ? this.storedAt[slot] : undefined;
    const seconds = storedAt !== undefined
      ? (performance.now() - storedAt) / 1000
      // Stored more than STORE_TIMES events ago: from receipt instead (whole ms, and a little longer),
      // so a slow tail is still seen.
      : (Date.now() - oldest.receivedAt.getTime()) / 1000;
    this.latency.observe({ transport }, seconds);
  }
}
