import type { Config } from './config/schema.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import type { Clock, DownstreamStatus, EventLog } from './domain/ports.js';
import { createLogger, type Logger } from './observability/logger.js';
import { MemoryEventLog } from './store/memory-event-log.js';
import { Checkpointer } from './store/checkpointer.js';
import { SqliteEventLog } from './store/sqlite-event-log.js';
import { createAuditService } from './transports/grpc/audit-service.js';
import { GrpcServer } from './transports/grpc/server.js';
import { HttpServer } from './transports/http/server.js';
import { ClusterLog } from './store/cluster-log.js';
import { clusterRecordCodec, openKafkaTopic } from './transports/kafka/shared-topic.js';
import { createKafkaSink, type KafkaSink, type KafkaStores, kafkaStoresIn, memoryKafkaStores } from './transports/kafka/index.js';
import { HealthMonitor } from './observability/health.js';
import { Security } from './security/security.js';
import { Registry } from 'prom-client';
import { DeliveryMetrics } from './observability/delivery-metrics.js';
import { Metrics } from './observability/metrics.js';
import { MemoryWebhooks } from './store/memory-webhooks.js';
import { SqliteWebhooks, type WebhookStore } from './store/sqlite-webhooks.js';
import { startWebhooks, type Webhooks } from './transports/webhooks/index.js';
import { registerWebhookMetrics } from './transports/webhooks/metrics.js';

/** Replaceable parts, for tests that need a particular clock or a log they control. */
export interface AppParts {
  readonly clock?: Clock | undefined;
  readonly eventLog?: EventLog | undefined;
  readonly logger?: Logger | undefined;
}

const systemClock: Clock = { now: () => new Date() };

/** What a running App holds. */
interface AppState {
  readonly config: Config;
  readonly dispatcher: Dispatcher;
  readonly grpc: GrpcServer;
  readonly http: HttpServer;
  readonly health: HealthMonitor;
  readonly logger: Logger;
  /** Open Subscribe streams, so shutdown can wait for them to drain. */
  readonly streams: Set<Promise<void>>;
  /** The Kafka forwarder, when kafka.enabled. */
  readonly kafka: KafkaSink | undefined;
  readonly checkpoints: Checkpointer | undefined;
  /** The webhooks; undefined in cluster mode. */
  readonly webhooks: Webhooks | undefined;
  /** Background timers, cleared on shutdown. */
  readonly timers: readonly NodeJS.Timeout[];
}

/**
 * The composition root: the one place concrete classes are chosen and wired together, each given what
 * it needs when it is made (nothing is assigned into an object afterwards).
 */
export class App {
  readonly config: Config;
  readonly dispatcher: Dispatcher;
  readonly grpc: GrpcServer;
  readonly http: HttpServer;
  readonly health: HealthMonitor;
  readonly logger: Logger;
  readonly kafka: KafkaSink | undefined;
  readonly checkpoints: Checkpointer | undefined;
  readonly webhooks: Webhooks | undefined;
  private readonly streams: Set<Promise<void>>;
  private readonly timers: readonly NodeJS.Timeout[];

  private constructor(state: AppState) {
    ({
      config: this.config, dispatcher: this.dispatcher, grpc: this.grpc, http: this.http, health: this.health,
      logger: this.logger, kafka: this.kafka, checkpoints: this.checkpoints, webhooks: this.webhooks, streams: this.streams, timers: this.timers,
    } = state);
  }

  get grpcPort(): number {
    return this.grpc.port;
  }

  get httpPort(): number {
    return this.http.port;
  }

  static async start(config: Config, parts: AppParts = {}): Promise<App> {
    const clock = parts.clock ?? systemClock;
    const logger = parts.logger ?? createLogger(config.logging.level);
    const { log: eventLog, kafkaStores, webhookStore } = await openStorage(config, clock, logger, parts.eventLog);
    let checkpoints: Checkpointer | undefined;
    try {
      checkpoints = openCheckpoints(config, eventLog, clock, logger);
    } catch (err) {
      await eventLog.close();
      throw err;
    }
    const { publisher, subscriber } = config.audit;
    const registry = new Registry();
    const deliveries = new DeliveryMetrics(registry);
    // The Kafka forwarder, or in cluster mode the shared log: circuit and lag in /metrics and /readyz.
    // (kafka and grpc are made below; these closures run only once the server serves.)
    const downstreams = (): DownstreamStatus[] => [kafka?.status(), eventLog.status?.(), ...(webhooks?.downstreams() ?? [])]
      .filter((d): d is DownstreamStatus => d !== undefined);
    const health = new HealthMonitor(eventLog, downstreams, (serving) => grpc.setServing(serving), logger);
    const filterBudget = { cpuMsPerSecond: subscriber.filter_cpu_per_second, cpuBurstMs: subscriber.filter_cpu_burst };
    const dispatcher = new Dispatcher(eventLog, {
      maxQueueDepth: publisher.max_queue_depth,
      criticalQueueDepth: publisher.critical_queue_depth,
      backpressureDelayMs: publisher.backpressure_delay,
      appendBatchSize: publisher.append_batch_size,
      subscriberQueueSize: subscriber.queue_size,
      maxSubscriptions: subscriber.max_subscriptions,
      maxExpressionLength: subscriber.max_expression_length,
      filterBudget,
    }, clock, { observer: deliveries, onLogFailure: (err) => health.appendFailed(err) });
    dispatcher.onStored((results) => deliveries.stored(results));
    const streams = new Set<Promise<void>>();
    const security = await Security.create(config.security, config.server.host, (message) => logger.warn(message));
    const tls = security.tlsFiles();
    const bridge = {
      security,
      dispatcher,
      log: logger,
      streams,
      maxExpressionLength: subscriber.max_expression_length,
      filterBudget,
      checkpoints,
      limits: {
        maxStringLength: publisher.max_string_length,
        maxMetadataBytes: publisher.max_metadata_bytes,
        maxMetadataDepth: publisher.max_metadata_depth,
        maxMetadataKeys: publisher.max_metadata_keys,
        maxFilterValues: subscriber.max_filter_values,
        maxBatchEvents: publisher.max_batch_events,
      },
      pump: {
        batchSize: subscriber.batch_size, heartbeatIntervalMs: subscriber.heartbeat_interval, now: () => clock.now(),
        checkpoint: () => checkpoints?.newest(),
      },
    };
    const kafka = config.kafka.enabled ? createKafkaSink(config.kafka, { dispatcher, logger, stores: kafkaStores }) : undefined;
    // Before the servers listen: a wrong configured webhook stops the start with its key named.
    let webhooks: Webhooks | undefined;
    try {
      webhooks = startWebhooks(config.webhooks, webhookStore, {
        log: eventLog, security, limits: bridge.limits, maxExpressionLength: subscriber.max_expression_length, filterBudget,
        logger: logger.child({ component: 'webhooks' }), onStored: (listener) => dispatcher.onStored(listener),
      });
    } catch (err) {
      await eventLog.close();
      throw err;
    }
    const service = createAuditService({ ...bridge, kafka, webhooks });
    const grpc = new GrpcServer(service);
    const port = await grpc.listen(config.server.host, config.server.grpc_port, tls);
    const metrics = new Metrics(registry, { dispatcher, log: eventLog, downstreams, writeErrors: () => health.writeErrors });
    registerWebhookMetrics(registry, () => webhooks?.list() ?? []);
    // The WebSocket and SSE bridges share the dispatcher, limits, pump settings and stream set.
    const http = new HttpServer({ ...bridge, tls, websocket: config.websocket, metrics, readiness: () => health.status(), service });
    const httpPort = await http.listen(config.server.host, config.server.http_port).catch(async (err: unknown) => {
      await grpc.close(0);
      throw err;
    });
    logger.info({ host: config.server.host, grpcPort: port, httpPort, storage: config.storage.type, tls: Boolean(tls), security: config.security.enabled }, 'auditstream is serving');
    health.start(config.server.health_check_interval);
    kafka?.start();
    if (checkpoints) {
      dispatcher.onStored((results) => checkpoints.stored(results));
      if (kafka) checkpoints.onCheckpoint((cp) => kafka.sendCheckpoint(config.storage.checkpoints.topic, cp));
      checkpoints.start();
    }
    const retain = eventLog.applyRetention?.bind(eventLog);
    const timers = retain ? [scheduleRetention(retain, eventLog, config.storage.retention.check_interval, clock, logger)] : [];
    return new App({ config, dispatcher, grpc, http, health, logger, streams, kafka, checkpoints, webhooks, timers });
  }

  /**
   * Graceful shutdown: report NOT_SERVING, refuse new work, store what is queued, deliver what each
   * stream has queued and end it with UNAVAILABLE, then close; all within server.shutdown_timeout.
   */
  async shutdown(): Promise<void> {
    const deadline = Date.now() + this.config.server.shutdown_timeout;
    this.health.markShuttingDown();
    this.http.setServing(false);
    await this.dispatcher.shutdown();
    this.checkpoints?.stop(); // signs the head once more, so a tail cut after shutdown is caught too
    // Everything queued is stored now: the forwarder flushes it to Kafka while the streams drain.
    const kafkaStopped = this.kafka?.stop(Math.max(0, deadline - Date.now()));
    const webhooksStopped = this.webhooks?.stop(Math.max(0, deadline - Date.now())); // the request in flight may finish
    await Promise.race([Promise.allSettled([...this.streams]), delay(deadline - Date.now())]);
    await this.grpc.close(Math.max(0, deadline - Date.now()));
    await this.http.close(Math.max(0, deadline - Date.now())); // WebSocket: close code 4001; SSE: response ended
    this.timers.forEach(clearInterval);
    this.health.stop();
    await kafkaStopped;
    await webhooksStopped;
    await this.dispatcher.log.close();
    this.logger.info('auditstream stopped');
  }
}

/** Signed checkpoints, when storage.checkpoints.key_file is set; refuses a log a checkpoint contradicts. */
function openCheckpoints(config: Config, log: EventLog, clock: Clock, logger: Logger): Checkpointer | undefined {
  const { storage } = config;
  const c = storage.checkpoints;
  if (!c.key_file) return undefined;
  if (storage.type !== 'sqlite') throw new Error('storage.checkpoints needs storage.type sqlite (in cluster mode the Kafka topic and every node are the witnesses)');
  return Checkpointer.open(
    { keyFile: c.key_file, file: c.file ?? `${storage.path}.checkpoints`, everyEvents: c.every_events, everyMs: c.every },
    log, clock, (err) => logger.error({ err }, 'could not write a checkpoint; the next one will try again'),
  );
}

/**
 * The event log storage.type asks for (or the one a test gives), and where the Kafka forwarder keeps its
 * cursor and dead letters: in the log's database when it is one, so they survive restarts with it.
 */
async function openStorage(config: Config, clock: Clock, logger: Logger, given?: EventLog): Promise<{ log: EventLog; kafkaStores: KafkaStores; webhookStore: WebhookStore | undefined }> {
  const { storage } = config;
  // Webhooks live with the events: in the SQLite database, else in memory; none in cluster mode.
  if (given) return { log: given, kafkaStores: memoryKafkaStores(), webhookStore: new MemoryWebhooks() };
  if (storage.type === 'memory') return { log: new MemoryEventLog(storage.memory_capacity, clock), kafkaStores: memoryKafkaStores(), webhookStore: new MemoryWebhooks() };
  if (storage.type === 'kafka') {
    const topic = await openKafkaTopic(config.kafka, config.cluster, clock, logger);
    const log = await ClusterLog.open(topic, clusterRecordCodec, {
      maxEvents: config.cluster.max_events, publishTimeoutMs: config.cluster.publish_timeout, clock, logger: logger.child({ component: 'cluster' }),
    });
    return { log, kafkaStores: memoryKafkaStores(), webhookStore: undefined };
  }
  const log = new SqliteEventLog({
    path: storage.path,
    clock,
    synchronous: storage.synchronous,
    integrityCheck: storage.integrity_check,
    retention: { maxAgeMs: storage.retention.max_age, maxEvents: storage.retention.max_events },
  });
  await log.ready();
  return { log, kafkaStores: kafkaStoresIn(log), webhookStore: new SqliteWebhooks(log) };
}

/** Removes expired events now and then; unref'd so it never keeps the process alive. */
function scheduleRetention(retain: (now: Date) => number, log: EventLog, intervalMs: number, clock: Clock, logger: Logger): NodeJS.Timeout {
  const run = (): void => {
    try {
      const removed = retain(clock.now());
      if (removed > 0) logger.info({ removed, firstSequence: log.firstSequence() }, 'retention removed old events');
    } catch (err) {
      logger.error({ err }, 'retention failed');
    }
  };
  run();
  return setInterval(run, intervalMs).unref();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
