import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { StoredAuditEvent } from '../domain/event.js';
import type { DeliveryObserver, EventLog } from '../domain/ports.js';

/** A downstream's state as health and metrics report it (the Kafka forwarder, for one). */
export interface DownstreamStatus {
  readonly name: string;
  /** cockatiel's circuit state: closed, open, half-open, isolated. */
  readonly circuit: 'closed' | 'open' | 'half-open' | 'isolated';
  /** Forwarder: stored events not yet handed to Kafka. Cluster log: records in the topic this node has not read yet. */
  readonly lag: number;
  readonly deadLetters: number;
}

export interface MetricSources {
  readonly dispatcher: Dispatcher;
  readonly log: EventLog;
  /** Downstreams with circuits (empty when Kafka is off). */
  readonly downstreams: () => readonly DownstreamStatus[];
  /** Appends that failed, by cause (the health monitor counts them). */
  readonly writeErrors?: () => ReadonlyMap<string, number>;
}

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2, isolated: 3 } as const;

/**
 * Prometheus metrics (prom-client). Counters the core keeps as plain numbers are read at scrape time,
 * so the hot path pays nothing for them; only delivery latency is observed as it happens, once per
 * written batch (the latency of its oldest event, received -> written).
 */
export class Metrics implements DeliveryObserver {
  readonly registry = new Registry();
  private readonly sends: Counter<'transport'>;
  private readonly latency: Histogram<'transport'>;

  constructor(sources: MetricSources) {
    const { dispatcher, log } = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const mirror = (name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>) =>
      new Counter({
        name, help, labelNames, registers,
        collect() {
          this.reset();
          for (const [labels, value] of read()) this.inc(labels, value);
        },
      });
    const gauge = (name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>) =>
      new Gauge({
        name, help, labelNames, registers,
        collect() {
          this.reset();
          for (const [labels, value] of read()) this.set(labels, value);
        },
      });

    mirror('auditstream_events_published_total', 'Events stored, by severity and category.', ['severity', 'category'], () =>
      [...dispatcher.counters.publishedByClass].map(([key, n]) => {
        const [severity, category] = key.split('/');
        return [{ severity, category }, n];
      }));
    mirror('auditstream_events_failed_total', 'Publishes rejected, by reason (gRPC status name).', ['reason'], () =>
      Object.entries(dispatcher.counters.failedByReason).map(([reason, n]) => [{ reason }, n]));
    mirror('auditstream_events_dropped_total', 'Events lost to subscribers whose cursor fell behind retention. Should stay 0.', ['reason'], () =>
      [[{ reason: 'retention' }, dispatcher.droppedTotal()]]);
    mirror('auditstream_filter_budget_exceeded_total', 'Subscriptions ended because their CEL filter exceeded its cost or CPU budget.', [], () =>
      [[{}, dispatcher.counters.filterBudgetExceeded]]);
    mirror('auditstream_log_write_errors_total', 'Appends to the event log that failed, by cause (SQLITE_FULL: disk full, SQLITE_IOERR_*: I/O error, ...).', ['reason'], () =>
      [...(sources.writeErrors?.() ?? [])].map(([reason, n]) => [{ reason }, n]));
    mirror('auditstream_events_duplicate_total', 'Publishes of an id already stored.', [], () => [[{}, dispatcher.counters.duplicates]]);
    gauge('auditstream_queue_size', 'Events waiting in an ingest lane.', ['lane'], () =>
      [dispatcher.ingest.critical, dispatcher.ingest.regular].map((l) => [{ lane: l.name }, l.items.length]));
    gauge('auditstream_subscriptions_active', 'Open subscriptions, by transport.', ['transport'], () => {
      const counts = new Map<string, number>();
      for (const s of dispatcher.registry.list()) counts.set(s.transport, (counts.get(s.transport) ?? 0) + 1);
      return [...counts].map(([transport, n]) => [{ transport }, n]);
    });
    gauge('auditstream_log_last_sequence', 'The newest stored sequence.', [], () => [[{}, log.lastSequence()]]);
    gauge('auditstream_log_events', 'Events the log holds (after retention).', [], () =>
      [[{}, Math.max(0, log.lastSequence() - log.firstSequence() + 1)]]);
    gauge('auditstream_circuit_state', 'Circuit breaker per downstream: 0 closed, 1 half-open, 2 open, 3 isolated.', ['downstream'], () =>
      sources.downstreams().map((d) => [{ downstream: d.name }, CIRCUIT_VALUE[d.circuit]]));
    gauge('auditstream_forwarder_lag_events', 'Events behind per downstream: kafka, stored but not acknowledged; kafka-log (cluster mode), in the topic but not read by this node.', ['downstream'], () =>
      sources.downstreams().map((d) => [{ downstream: d.name }, d.lag]));
    gauge('auditstream_dead_letters', 'Events a downstream rejected for good, waiting for redrive.', ['downstream'], () =>
      sources.downstreams().map((d) => [{ downstream: d.name }, d.deadLetters]));

    this.sends = new Counter({ name: 'auditstream_deliveries_total', help: 'Events written to subscribers, by transport.', labelNames: ['transport'], registers });
    this.latency = new Histogram({
      name: 'auditstream_delivery_latency_seconds',
      help: 'Received -> written to the subscriber, per written batch (its oldest event).',
      labelNames: ['transport'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    });
  }

  delivered(transport: string, events: readonly StoredAuditEvent[]): void {
    this.sends.inc({ transport }, events.length);
    this.latency.observe({ transport }, (Date.now() - events[0].receivedAt.getTime()) / 1000);
  }

  /** The Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
