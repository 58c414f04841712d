import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client';
import { TRANSPORTS } from './delivery-metrics.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { CATEGORIES, SEVERITIES } from '../domain/catalog.js';
import type { ErrorCode } from '../domain/errors.js';
import type { DownstreamStatus, EventLog } from '../domain/ports.js';


export interface MetricSources {
  readonly dispatcher: Dispatcher;
  readonly log: EventLog;
  /** Downstreams with circuits (empty when Kafka is off). */
  readonly downstreams: () => readonly DownstreamStatus[];
  /** Appends that failed, by cause (the health monitor counts them). */
  readonly writeErrors?: () => ReadonlyMap<string, number>;
}

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2, isolated: 3 } as const;


/** Every ErrorCode (domain/errors.ts): the reasons a publish can fail with. */
const FAILURE_REASONS = [
  'INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'INTERNAL',
] as const satisfies readonly ErrorCode[];
// Fails to compile when an ErrorCode is added to domain/errors.ts but not to the list above.
const everyReasonListed: Exclude<ErrorCode, (typeof FAILURE_REASONS)[number]> extends never ? true : never = true;
void everyReasonListed;

/**
 * prom-client's default collectors that promtool rejects: gauges named like counters (`_total`).
 * Their per-type series (nodejs_active_handles{type}, ...) stay; sum() over them gives the total.
 */
const NONCONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];


type Samples = Array<[Record<string, string>, number]>;

/**
 * Prometheus metrics (prom-client). Counters the core keeps as plain numbers are read at scrape time,
 * so the hot path pays nothing for them; only delivery is observed as it happens, once per written
 * batch (delivery-metrics.ts). Every labelled series whose label values are known in advance (severities x categories,
 * error codes, transports, lanes, configured downstreams) is exported from the start and stays at 0
 * rather than disappearing, so dashboards show 0 instead of "no data" and rate() sees the first
 * increment. Only auditstream_log_write_errors_total{reason} appears with its first error: its
 * reasons are SQLite's error codes, an open set.
 */
export class Metrics {
  /** `registry` already holds the delivery metrics (delivery-metrics.ts). */
  constructor(readonly registry: Registry, sources: MetricSources) {
    const { dispatcher, log } = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const name of NONCONFORMING_DEFAULTS) this.registry.removeSingleMetric(name);
    // `zeros`: the label sets exported at 0 when read() has nothing for them.
    const mirror = (name: string, help: string, labelNames: string[], zeros: Array<Record<string, string>>, read: () => Samples) =>
      new Counter({
        name, help, labelNames, registers,
        collect() {
          this.reset();
          for (const labels of zeros) this.inc(labels, 0);
          for (const [labels, value] of read()) this.inc(labels, value);
        },
      });
    const gauge = (name: string, help: string, labelNames: string[], zeros: Array<Record<string, string>>, read: () => Samples) =>
      new Gauge({
        name, help, labelNames, registers,
        collect() {
          this.reset();
          for (const labels of zeros) this.set(labels, 0);
          for (const [labels, value] of read()) this.set(labels, value);
        },
      });
    const classes = SEVERITIES.flatMap((severity) => CATEGORIES.map((category) => ({ severity, category })));
    const transports = TRANSPORTS.map((transport) => ({ transport }));

    mirror('auditstream_events_published_total', 'Events stored, by severity and category.', ['severity', 'category'], classes, () =>
      [...dispatcher.counters.publishedByClass].map(([key, n]) => {
        const [severity = '', category = ''] = key.split('/');
        return [{ severity, category }, n];
      }));
    mirror('auditstream_events_failed_total', 'Publishes rejected, by reason (gRPC status name).', ['reason'], FAILURE_REASONS.map((reason) => ({ reason })), () =>
      Object.entries(dispatcher.counters.failedByReason).map(([reason, n]) => [{ reason }, n]));
    mirror('auditstream_events_dropped_total', 'Events lost to subscribers whose cursor fell behind retention. Should stay 0.', ['reason'], [], () =>
      [[{ reason: 'retention' }, dispatcher.droppedTotal()]]);
    mirror('auditstream_filter_budget_exceeded_total', 'Subscriptions ended because their CEL filter exceeded its cost or CPU budget.', [], [], () =>
      [[{}, dispatcher.counters.filterBudgetExceeded]]);
    mirror('auditstream_log_write_errors_total', 'Appends to the event log that failed, by cause (SQLITE_FULL: disk full, SQLITE_IOERR_*: I/O error, ...).', ['reason'], [], () =>
      [...(sources.writeErrors?.() ?? [])].map(([reason, n]) => [{ reason }, n]));
    mirror('auditstream_events_duplicate_total', 'Publishes of an id already stored.', [], [], () => [[{}, dispatcher.counters.duplicates]]);
    gauge('auditstream_ingest_queue_events', 'Events waiting in an ingest lane to be stored.', ['lane'], [], () =>
      [dispatcher.ingest.critical, dispatcher.ingest.regular].map((l) => [{ lane: l.name }, l.items.length]));
    gauge('auditstream_subscriptions_active', 'Open subscriptions, by transport.', ['transport'], transports, () => {
      const counts = new Map<string, number>();
      for (const s of dispatcher.registry.list()) counts.set(s.transport, (counts.get(s.transport) ?? 0) + 1);
      return [...counts].map(([transport, n]) => [{ transport }, n]);
    });
    gauge('auditstream_log_last_sequence', 'The newest stored sequence.', [], [], () => [[{}, log.lastSequence()]]);
    gauge('auditstream_log_events', 'Events the log holds (after retention).', [], [], () =>
      [[{}, Math.max(0, log.lastSequence() - log.firstSequence() + 1)]]);
    // Downstreams are the configured ones (the list is fixed at start), so their series exist from the start.
    gauge('auditstream_circuit_state', 'Circuit breaker per downstream: 0 closed, 1 half-open, 2 open, 3 isolated.', ['downstream'], [], () =>
      sources.downstreams().map((d) => [{ downstream: d.name }, CIRCUIT_VALUE[d.circuit]]));
    gauge('auditstream_forwarder_lag_events', 'Events behind per downstream: kafka, stored but not acknowledged; kafka-log (cluster mode), in the topic but not read by this node.', ['downstream'], [], () =>
      sources.downstreams().map((d) => [{ downstream: d.name }, d.lag]));
    gauge('auditstream_dead_letter_events', 'Events a downstream rejected for good, waiting for redrive.', ['downstream'], [], () =>
      sources.downstreams().map((d) => [{ downstream: d.name }, d.deadLetters]));

  }

  /** The Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
