import { register } from 'node:module';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config/schema.js';
import { enableTracing } from '../lib/tracing.js';

export interface Telemetry {
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing. Must run before @grpc/grpc-js is first imported: the gRPC
 * instrumentation patches the module as it loads (through the import-in-the-middle hook, since this
 * is an ES module program). Off by default; `exporter` overrides the configured one (tests pass an
 * in-memory exporter).
 */
export async function startTelemetry(settings: Config['telemetry'], exporter?: SpanExporter): Promise<Telemetry> {
  const tracing = settings.tracing;
  if (!exporter && tracing.exporter === 'none') return { shutdown: () => Promise.resolve() };
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [{ NodeTracerProvider }, base, { registerInstrumentations }, { GrpcInstrumentation }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-grpc'),
    import('@opentelemetry/resources'),
  ]);
  let chosen = exporter;
  if (!chosen && tracing.exporter === 'console') chosen = new base.ConsoleSpanExporter();
  if (!chosen) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    chosen = new OTLPTraceExporter({ url: tracing.otlp_endpoint });
  }
  const processor = exporter ? new base.SimpleSpanProcessor(chosen) : new base.BatchSpanProcessor(chosen);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': tracing.service_name }),
    sampler: new base.TraceIdRatioBasedSampler(tracing.sample_ratio),
    spanProcessors: [processor],
  });
  provider.register();
  registerInstrumentations({ instrumentations: [new GrpcInstrumentation()] });
  enableTracing();
  return { shutdown: () => provider.shutdown() };
}
