import { z } from 'zod';

/** "250ms", "10s", "5m", "1h" or a number of milliseconds. */
const duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(ms|s|m|h)$/, 'expected a duration such as 250ms, 10s, 5m or 1h').transform((text) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h)$/.exec(text)!;
    return Number(amount) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  }),
]);
/** Whole numbers also as digit strings, since ${VAR} expansion always yields strings. */
const digits = (v: unknown): unknown => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
const count = z.preprocess(digits, z.number().int().positive());
const port = z.preprocess(digits, z.number().int().min(0).max(65535));

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().default('127.0.0.1'),
    grpc_port: port.default(50051),
    http_port: port.default(8080),
    /** Longest a graceful shutdown may take before remaining streams are cut. */
    shutdown_timeout: duration.default(10_000),
  }).prefault({}),
  audit: z.strictObject({
    publisher: z.strictObject({
      max_queue_depth: count.default(10_000),
      critical_queue_depth: count.default(1_000),
      backpressure_delay: duration.default(100),
      append_batch_size: count.default(500),
      max_batch_events: count.default(1_000),
      max_string_length: count.default(256),
      max_metadata_bytes: count.default(65_536),
      max_metadata_depth: count.default(8),
    }).prefault({}),
    subscriber: z.strictObject({
      queue_size: count.default(1_000),
      batch_size: count.default(100),
      heartbeat_interval: duration.default(15_000),
      max_subscriptions: count.default(10_000),
      max_filter_values: count.default(1_000),
      max_expression_length: count.default(4_096),
    }).prefault({}),
  }).prefault({}),
  storage: z.strictObject({
    type: z.enum(['memory']).default('memory'),
    /** storage.type memory: how many of the newest events are kept. */
    memory_capacity: count.default(100_000),
  }).prefault({}),
  logging: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
});

export type Config = z.output<typeof configSchema>;
/** What a caller may pass in: any subset, values as written in YAML. */
export type ConfigInput = z.input<typeof configSchema>;
