import type { Config } from './config/schema.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import type { Clock, EventLog } from './domain/ports.js';
import { createLogger, type Logger } from './observability/logger.js';
import { MemoryEventLog } from './store/memory-event-log.js';
import { createAuditService } from './transports/grpc/audit-service.js';
import { GrpcServer } from './transports/grpc/server.js';

/** Replaceable parts, for tests that need a particular clock or a log they control. */
export interface AppParts {
  readonly clock?: Clock;
  readonly eventLog?: EventLog;
  readonly logger?: Logger;
}

const systemClock: Clock = { now: () => new Date() };

/** The composition root: the one place concrete classes are wired together. */
export class App {
  private constructor(
    readonly config: Config,
    readonly dispatcher: Dispatcher,
    readonly grpc: GrpcServer,
    readonly logger: Logger,
    private readonly streams: Set<Promise<void>>,
  ) {}

  get grpcPort(): number {
    return this.grpc.port;
  }

  static async start(config: Config, parts: AppParts = {}): Promise<App> {
    const clock = parts.clock ?? systemClock;
    const logger = parts.logger ?? createLogger(config.logging.level);
    const eventLog = parts.eventLog ?? new MemoryEventLog(config.storage.memory_capacity, clock);
    const { publisher, subscriber } = config.audit;
    const dispatcher = new Dispatcher(eventLog, {
      maxQueueDepth: publisher.max_queue_depth,
      criticalQueueDepth: publisher.critical_queue_depth,
      backpressureDelayMs: publisher.backpressure_delay,
      appendBatchSize: publisher.append_batch_size,
      subscriberQueueSize: subscriber.queue_size,
      maxSubscriptions: subscriber.max_subscriptions,
      maxExpressionLength: subscriber.max_expression_length,
    }, clock);
    const streams = new Set<Promise<void>>();
    const service = createAuditService({
      dispatcher,
      log: logger,
      streams,
      limits: {
        maxStringLength: publisher.max_string_length,
        maxMetadataBytes: publisher.max_metadata_bytes,
        maxMetadataDepth: publisher.max_metadata_depth,
        maxFilterValues: subscriber.max_filter_values,
        maxBatchEvents: publisher.max_batch_events,
      },
      pump: { batchSize: subscriber.batch_size, heartbeatIntervalMs: subscriber.heartbeat_interval, now: () => clock.now() },
    });
    const grpc = new GrpcServer(service);
    const port = await grpc.listen(config.server.host, config.server.grpc_port);
    logger.info({ host: config.server.host, grpcPort: port, storage: config.storage.type }, 'auditstream is serving');
    return new App(config, dispatcher, grpc, logger, streams);
  }

  /**
   * Graceful shutdown: report NOT_SERVING, refuse new work, store what is queued, deliver what each
   * stream has queued and end it with UNAVAILABLE, then close; all within server.shutdown_timeout.
   */
  async shutdown(): Promise<void> {
    const deadline = Date.now() + this.config.server.shutdown_timeout;
    this.grpc.setServing(false);
    await this.dispatcher.shutdown();
    await Promise.race([Promise.allSettled([...this.streams]), delay(deadline - Date.now())]);
    await this.grpc.close(Math.max(0, deadline - Date.now()));
    await this.dispatcher.log.close();
    this.logger.info('auditstream stopped');
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
