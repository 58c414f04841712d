import { context, ROOT_CONTEXT, trace, type Attributes, type Span } from '@opentelemetry/api';

/**
 * Spans that follow an event through the service, parented on the trace context it was published
 * in (its W3C traceparent). Off until telemetry starts, so the hot path pays one boolean check.
 */
let enabled = false;
const tracer = () => trace.getTracer('auditstream');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function enableTracing(): void {
  enabled = true;
}

export function tracingEnabled(): boolean {
  return enabled;
}

/** The active span's context as a W3C traceparent, or '' when there is none. */
export function activeTraceparent(): string {
  if (!enabled) return '';
  const span = trace.getActiveSpan();
  if (!span) return '';
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/** Starts a span whose parent is the traceparent; undefined when tracing is off or there is none. */
export function startSpanUnder(name: string, traceparent: string, attributes?: Attributes): Span | undefined {
  if (!enabled || traceparent === '') return undefined;
  const [, traceId, spanId, flags] = TRACEPARENT.exec(traceparent) ?? [];
  if (traceId === undefined || spanId === undefined || flags === undefined) return undefined;
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: false });
  return tracer().startSpan(name, attributes ? { attributes } : {}, parent);
}

/** One span per traced item, all ended by the returned function. */
export function spansUnder<T extends { readonly traceparent: string }>(name: string, items: readonly T[], attributes: (item: T) => Attributes): () => void {
  if (!enabled) return () => undefined;
  const spans = items.map((item) => startSpanUnder(name, item.traceparent, attributes(item))).filter((s): s is Span => s !== undefined);
  return () => spans.forEach((s) => s.end());
}

/** The active trace and span ids, for log lines. */
export function activeTraceIds(): { trace_id?: string | undefined; span_id?: string | undefined } {
  if (!enabled) return {};
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
