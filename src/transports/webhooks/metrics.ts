import { Counter, Gauge, type Registry } from 'prom-client';
import type { Running } from './runtime.js';

/**
 * Per-webhook series, read at scrape time from the workers' counters (the delivery path pays nothing):
 *
 *   auditstream_webhook_deliveries_total{webhook}  events the endpoint acknowledged (2xx)
 *   auditstream_webhook_failures_total{webhook}    requests that failed (not 2xx, timeout, no connection)
 *   auditstream_webhook_lag_events{webhook}        stored events after its cursor
 *
 * Circuit state and dead letters are the downstream series (auditstream_circuit_state and
 * auditstream_dead_letter_events with downstream="webhook:<name>"). A webhook's series exist from
 * its creation (at 0) until it is deleted; the counters restart at 0 with the process, as every
 * counter does.
 */
export function registerWebhookMetrics(registry: Registry, webhooks: () => readonly Running[]): void {
  const registers = [registry];
  new Counter({
    name: 'auditstream_webhook_deliveries_total', help: 'Events a webhook endpoint acknowledged (2xx), since start.', labelNames: ['webhook'], registers,
    collect() {
      this.reset();
      for (const { record, worker } of webhooks()) this.inc({ webhook: record.name }, worker.status().sent);
    },
  });
  new Counter({
    name: 'auditstream_webhook_failures_total', help: 'Webhook requests that failed: not 2xx, no answer within the timeout, or no connection.', labelNames: ['webhook'], registers,
    collect() {
      this.reset();
      for (const { record, worker } of webhooks()) this.inc({ webhook: record.name }, worker.status().failed);
    },
  });
  new Gauge({
    name: 'auditstream_webhook_lag_events', help: 'Stored events after a webhook\'s cursor (delivered, filtered out or dead-lettered up to it).', labelNames: ['webhook'], registers,
    collect() {
      this.reset();
      for (const { record, worker } of webhooks()) this.set({ webhook: record.name }, worker.status().lag);
    },
  });
}
