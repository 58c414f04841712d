import { z } from 'zod';
import { checkWebhooks, webhooksSchema } from '../transports/webhooks/config-schema.js';
import { closest } from './keys.js';

/** Whole numbers also as digit strings, since ${VAR} expansion always yields strings. */
const digits = (v: unknown): unknown => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);

/** "250ms", "10s", "5m", "1h" or a number of milliseconds (also as a digit string, from ${VAR}). */
const duration = z.preprocess(digits, z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(ms|s|m|h)$/).transform((text) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h)$/.exec(text)!;
    return Number(amount) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  }),
], { error: (issue) => `${JSON.stringify(issue.input)} is not a duration: use a number of milliseconds or 250ms, 10s, 5m, 1h` }));
const count = z.preprocess(digits, z.number().int().positive());
const port = z.preprocess(digits, z.number().int().min(0).max(65535));

/** Booleans also as "true"/"false", since ${VAR} expansion always yields strings. */
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const topicName = z.string().regex(/^[a-zA-Z0-9._-]{1,200}$/, 'letters, digits, ".", "_" and "-" only');
const retryCount = z.preprocess(digits, z.number().int().min(0).max(100));

/** kafka.*: the Kafka forwarder (README, "Kafka"). Off by default: the service needs no Kafka. */
const kafkaSchema = z.strictObject({
  enabled: flag.default(false),
  /** host:port list, or one comma-separated string (what `brokers: ${KAFKA_BROKERS}` expands to). */
  brokers: z.preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
    z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1),
  ).default(['localhost:9092']),
  client_id: z.string().min(1).default('auditstream'),
  /** With enable_topic_routing false, every event goes here. */
  topic: topicName.default('audit-events'),
  /** Routing: <topic_prefix>.critical for CRITICAL events, else <topic_prefix>.<category>. */
  topic_prefix: topicName.default('audit'),
  enable_topic_routing: flag.default(true),
  /** protobuf: binary audit.v1.AuditEvent; json: its proto JSON mapping. */
  value_format: z.enum(['protobuf', 'json']).default('protobuf'),
  /** snappy through the kafkajs-snappy codec; lz4 and zstd have no codec installed. */
  compression_type: z.enum(['none', 'gzip', 'snappy']).default('none'),
  /** Most events in one produce request. */
  batch_size: count.default(500),
  /** After a quiet spell, wait this long for more events so a trickle still makes batches. */
  linger_ms: z.preprocess(digits, z.number().int().min(0)).default(5),
  /** Retries after the first attempt; retry_max is the original name of the same setting. */
  retry_max: retryCount.optional(),
  max_retries: retryCount.optional(),
  /** The first retry's delay; later ones grow exponentially (with jitter) up to retry_backoff. */
  retry_delay: duration.default(100),
  retry_backoff: duration.default(5_000),
  /** all (-1) or 1. Not 0: the cursor advances only on an acknowledgement. */
  required_acks: z.preprocess(
    (v) => (v === 'all' ? -1 : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v),
    z.union([z.literal(-1), z.literal(1)], { error: 'expected all, -1 or 1 (0 is refused: the cursor advances only on an acknowledgement)' }),
  ).default(-1),
  /** The idempotent producer: a retried send is not written twice. Needs required_acks all. */
  idempotent_writes: flag.default(true),
  /** kafkajs's timeout of one request, and how long the broker may wait for replicas to acknowledge a produce. */
  request_timeout: duration.default(30_000),
  /**
   * The longest one send attempt (connecting, metadata, the produce and kafkajs's own retry of it) may
   * wait for Kafka's acknowledgement; then it counts as a failed send (retried, and towards the circuit
   * breaker), also when the broker is merely not answering.
   */
  send_timeout: duration.default(5_000),
  tls: z.strictObject({
    enabled: flag.default(false),
    /** PEM files. No ca_file: the system's CAs. cert_file + key_file: a client certificate (mTLS). */
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
  }).prefault({}),
  /** Absent: no SASL. Credentials usually as ${VAR}. */
  sasl: z.strictObject({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
    username: z.string().min(1),
    password: z.string().min(1),
  }).optional(),
  circuit_breaker: z.strictObject({
    /** Consecutive failed attempts (Kafka unreachable, timing out, refusing credentials) that open the circuit. */
    threshold: count.default(5),
    /** An open circuit fails fast this long, then lets one test send through. */
    half_open_after: duration.default(10_000),
  }).prefault({}),
}).superRefine((k, ctx) => {
  if (k.retry_max !== undefined && k.max_retries !== undefined && k.retry_max !== k.max_retries) {
    ctx.addIssue({ code: 'custom', path: ['max_retries'], message: `disagrees with kafka.retry_max (${k.retry_max}); set one of them` });
  }
  if (k.send_timeout < 1) {
    ctx.addIssue({ code: 'custom', path: ['send_timeout'], message: 'must be more than 0' });
  }
  if (k.idempotent_writes && k.required_acks !== -1) {
    ctx.addIssue({ code: 'custom', path: ['required_acks'], message: 'must be all (-1) while idempotent_writes is true' });
  }
  if ((k.tls.cert_file === undefined) !== (k.tls.key_file === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'cert_file and key_file go together' });
  }
}).transform(({ retry_max, max_retries, ...rest }) => ({ ...rest, max_retries: max_retries ?? retry_max ?? 5 }));

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().default('127.0.0.1'),
    grpc_port: port.default(50051),
    http_port: port.default(8080),
    /** Longest a graceful shutdown may take before remaining streams are cut. */
    shutdown_timeout: duration.default(10_000),
    /** How often readiness (log writable) is re-checked for gRPC health and /readyz. */
    health_check_interval: duration.default(5_000),
  }).superRefine((s, ctx) => {
    if (s.grpc_port !== 0 && s.grpc_port === s.http_port) {
      ctx.addIssue({ code: 'custom', path: ['http_port'], message: `is server.grpc_port too (${s.grpc_port}); the two need different ports` });
    }
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
      max_metadata_keys: count.default(512),
    }).prefault({}),
    subscriber: z.strictObject({
      queue_size: count.default(1_000),
      batch_size: count.default(100),
      heartbeat_interval: duration.default(15_000),
      max_subscriptions: count.default(10_000),
      max_filter_values: count.default(1_000),
      max_expression_length: count.default(4_096),
      /**
       * CPU time one subscription's (or one Query page's) CEL expression may spend per second on
       * average, and the burst above that; a filter that keeps over it is ended RESOURCE_EXHAUSTED.
       */
      filter_cpu_per_second: duration.refine((ms) => ms > 0, 'must be longer than 0').default(50),
      filter_cpu_burst: duration.default(500),
    }).prefault({}),
  }).prefault({}),
  storage: z.strictObject({
    /**
     * sqlite: the durable embedded log (default); memory: bounded, lost on restart (development);
     * kafka: cluster mode, the log is the cluster.topic shared by every node (README, "Cluster mode").
     */
    type: z.enum(['sqlite', 'memory', 'kafka']).default('sqlite'),
    /** storage.type sqlite: the database file; its folder is created. */
    path: z.string().min(1).default('./data/auditstream.db'),
    /** full: a commit survives power loss; normal: it survives a process crash, and commits are faster. */
    synchronous: z.enum(['full', 'normal']).default('full'),
    /** storage.type sqlite: SQLite's quick_check at start (seconds on a large log); a damaged file is refused. */
    integrity_check: flag.default(true),
    /** storage.type memory: how many of the newest events are kept. */
    memory_capacity: count.default(100_000),
    retention: z.strictObject({
      /** Remove events received longer ago than this; absent: keep forever. */
      max_age: duration.optional(),
      /** Keep at most this many events; absent: no limit. */
      max_events: count.optional(),
      /** How often retention runs. */
      check_interval: duration.default(60_000),
    }).prefault({}),
    /**
     * Signed checkpoints (on when key_file is set): every `every_events` events and/or `every`, the
     * server signs (sequence, hash, time) with an Ed25519 private key (PEM, PKCS#8), appends it to
     * `file` (default: storage.path + ".checkpoints"), carries the newest in heartbeats and, with
     * kafka.enabled, sends it to `topic`. At start the log's head is checked against the newest one.
     */
    checkpoints: z.strictObject({
      key_file: z.string().min(1).optional(),
      file: z.string().min(1).optional(),
      every_events: count.default(1_000),
      every: duration.default(60_000),
      topic: z.string().min(1).default('auditstream.checkpoints'),
    }).prefault({}),
  }).prefault({}),
  security: z.strictObject({
    /** Off: every caller is a local admin, and the service refuses a non-loopback host unless allow_insecure. */
    enabled: flag.default(false),
    allow_insecure: flag.default(false),
    tls: z.strictObject({
      /** PEM files; with both set, gRPC and HTTP serve TLS. */
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      /** Mutual TLS: client certificates must chain to this CA; the certificate's subject CN is the caller. */
      client_ca_file: z.string().optional(),
    }).prefault({}),
    jwt: z.strictObject({
      secret: z.string().optional(),
      public_key_file: z.string().optional(),
      algorithm: z.enum(['RS256', 'ES256']).default('RS256'),
      jwks_file: z.string().optional(),
      issuer: z.string().optional(),
      audience: z.string().optional(),
      subject_claim: z.string().default('sub'),
      roles_claim: z.string().default('roles'),
      scopes_claim: z.string().default('scope'),
      /** Accept tokens with no exp claim (they never expire); off: such a token is UNAUTHENTICATED. */
      allow_tokens_without_exp: flag.default(false),
      /**
       * Longest a token may live: exp - iat (or exp - now without iat). 24h: a leaked token is good for
       * a day at most, while a daily-rotated service token and any interactive session token still pass.
       */
      max_token_lifetime: duration.refine((ms) => ms > 0, 'must be longer than 0').default(86_400_000),
    }).prefault({}),
    /** Roles for callers identified by a client certificate (mutual TLS), by subject CN. */
    certificate_roles: z.record(z.string(), z.array(z.string())).default({}),
    /** Metadata keys always redacted for roles that see PII redacted; replaces the built-in list when set. */
    pii_keys: z.array(z.string()).optional(),
    rate_limits: z.strictObject({
      publish_per_second: count.default(5_000),
      publish_burst: count.default(10_000),
      max_subscriptions_per_subject: count.default(1_000),
      connections_per_ip_per_second: count.default(50),
      max_connections_per_ip: count.default(500),
    }).prefault({}),
  }).prefault({}),
  telemetry: z.strictObject({
    tracing: z.strictObject({
      /** none (default), console (spans printed, for development) or otlp (OTLP over HTTP). */
      exporter: z.enum(['none', 'console', 'otlp']).default('none'),
      otlp_endpoint: z.string().url().default('http://127.0.0.1:4318/v1/traces'),
      service_name: z.string().min(1).default('auditstream'),
      /** Fraction of new traces recorded, 0 to 1. */
      sample_ratio: z.number().min(0).max(1).default(1),
    }).prefault({}),
  }).prefault({}),
  logging: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
  /** The WebSocket bridge at /v1/stream (README, "WebSocket and SSE bridges"). */
  websocket: z.strictObject({
    ping_interval: duration.default(30_000),
    /** A connection that answered no ping for this long is closed (4003). */
    pong_timeout: duration.default(60_000),
    /** Largest client frame in bytes; a larger one closes the connection (1009). */
    max_message_size: count.default(1_048_576),
    /** Bytes queued for one connection before its subscriptions stop taking and catch up from the log. */
    send_buffer_size: count.default(1_048_576),
    /** A connection whose send buffer stays over send_buffer_size this long is closed (4004). */
    write_timeout: duration.default(30_000),
    max_connections: count.default(2_000),
    /** Client frames per second allowed per connection (with that many as a burst); beyond it, close (4005). */
    max_frames_per_second: count.default(100),
  }).prefault({}),
  kafka: kafkaSchema.prefault({}),
  /** storage.type kafka: the shared log. The connection (brokers, client_id, tls, sasl, timeouts) is kafka.*. */
  cluster: z.strictObject({
    /** The topic every node appends to and reads whole; created with `partitions` when missing. */
    topic: topicName.default('auditstream.log'),
    partitions: count.default(6),
    /** Names this node in logs and in its consumer group; defaults to the host name. */
    node_id: z.string().regex(/^[a-zA-Z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-" only').optional(),
    /**
     * How far back a starting node loads the topic (Kafka's offsets by timestamp): the history it can
     * replay and resume cursors from, and the window within which an event id is stored only once.
     */
    history: duration.default(86_400_000),
    /** Most events a node holds in memory; older ones are evicted (a resume before them gets a gap notice). */
    max_events: count.default(1_000_000),
    /** A Publish whose events Kafka acknowledged but this node has not read back within this fails UNAVAILABLE (retrying is safe). */
    publish_timeout: duration.default(10_000),
  }).prefault({}),
  /** Durable HTTP push subscriptions (README, "Webhooks"): defaults, and webhooks declared by name. */
  webhooks: webhooksSchema({ duration, count, flag, retryCount, closest }).prefault({}),
}).superRefine((c, ctx) => {
  checkWebhooks(c, ctx);
  if (c.storage.type === 'kafka' && c.kafka.enabled) {
    ctx.addIssue({ code: 'custom', path: ['kafka', 'enabled'], message: 'must be false with storage.type kafka: every node would forward every event; the cluster topic already holds them all' });
  }
  if (c.storage.type === 'kafka' && !c.kafka.idempotent_writes) {
    ctx.addIssue({ code: 'custom', path: ['kafka', 'idempotent_writes'], message: 'must be true with storage.type kafka: the shared log is written by the idempotent producer with acks all' });
  }
});

/**
 * Every key naming a file. A relative path written in a config file is relative to that file's folder;
 * a default, or a path with no config file, is relative to the working directory (load.ts, resolvePaths).
 */
export const PATH_KEYS = [
  'storage.path',
  'storage.checkpoints.key_file',
  'storage.checkpoints.file',
  'security.tls.cert_file',
  'security.tls.key_file',
  'security.tls.client_ca_file',
  'security.jwt.public_key_file',
  'security.jwt.jwks_file',
  'kafka.tls.ca_file',
  'kafka.tls.cert_file',
  'kafka.tls.key_file',
] as const;

export type Config = z.output<typeof configSchema>;
/** What a caller may pass in: any subset, values as written in YAML. */
export type ConfigInput = z.input<typeof configSchema>;
