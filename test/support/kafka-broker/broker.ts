/**
 * KafkaTestBroker: a single-node Kafka broker speaking the real wire protocol
 * on 127.0.0.1, for tests with unmodified Kafka clients (kafkajs). Data
 * (topics, records, committed offsets, producer sequences) lives in memory
 * and survives stop()/start(), like a broker process restarting with its disk.
 */
import { type Server, type Socket, createServer } from 'node:net';
import { type CommittedOffset, CommittedOffsets } from './committed-offsets.js';
import { BrokerConnection } from './connection.js';
import { type FaultSpec, FaultInjector } from './faults.js';
import { type GroupDescription, GroupCoordinator } from './group-coordinator.js';
import type { BrokerConfig, BrokerState } from './handlers/types.js';
import { LogStore, type StoredRecord } from './log-store.js';
import { ProducerIdAllocator } from './producer-state.js';

export interface KafkaTestBrokerOptions {
  /** Port to listen on; 0 (default) picks a free one, kept across restarts. */
  readonly port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Partitions of auto-created topics and of CreateTopics without a count (default 3). */
  readonly partitions?: number;
  /** Create unknown topics on Metadata/Produce when the client allows it (default true). */
  readonly autoCreateTopics?: boolean;
  /** Largest record batch a Produce may carry (default 1048588, Kafka's message.max.bytes). */
  readonly maxMessageBytes?: number;
  /** Kafka's group.initial.rebalance.delay.ms (default 0). */
  readonly groupInitialRebalanceDelayMs?: number;
  /** Accepted consumer session timeouts (default 100 .. 1800000 ms). */
  readonly groupMinSessionTimeoutMs?: number;
  readonly groupMaxSessionTimeoutMs?: number;
  /** Called with unexpected internal errors (default: console.error). */
  readonly onError?: (err: unknown) => void;
}

export type BrokerRecord = StoredRecord;

export interface TopicSummary {
  readonly name: string;
  readonly partitions: number;
  /** High watermark (= next offset) per partition. */
  readonly highWatermarks: number[];
}

export class KafkaTestBroker {
  /** Creates a broker and starts listening. */
  static async start(options: KafkaTestBrokerOptions = {}): Promise<KafkaTestBroker> {
    const broker = new KafkaTestBroker(options);
    await broker.start();
    return broker;
  }

  private readonly state: BrokerState;
  private readonly onError: (err: unknown) => void;
  private readonly listenHost: string;
  private listenPort: number;
  private server: Server | undefined;
  private readonly connections = new Set<BrokerConnection>();
  private isFrozen = false;

  constructor(options: KafkaTestBrokerOptions = {}) {
    this.listenHost = options.host ?? '127.0.0.1';
    this.listenPort = options.port ?? 0;
    this.onError = options.onError ?? ((err) => console.error('[kafka-test-broker]', err));
    const currentPort = (): number => this.listenPort; // the port is known only once listening
    const config: BrokerConfig = {
      nodeId: 0,
      host: this.listenHost,
      get port() {
        return currentPort();
      },
      clusterId: 'kafka-test-broker',
      autoCreateTopics: options.autoCreateTopics ?? true,
      maxMessageBytes: options.maxMessageBytes ?? 1048588,
    };
    this.state = {
      config,
      store: new LogStore(options.partitions ?? 3),
      groups: new GroupCoordinator({
        initialRebalanceDelayMs: options.groupInitialRebalanceDelayMs ?? 0,
        minSessionTimeoutMs: options.groupMinSessionTimeoutMs ?? 100,
        maxSessionTimeoutMs: options.groupMaxSessionTimeoutMs ?? 1_800_000,
      }),
      offsets: new CommittedOffsets(),
      producerIds: new ProducerIdAllocator(),
      faults: new FaultInjector(),
    };
  }

  /** The listening port (fixed after the first start). */
  get port(): number {
    if (this.listenPort === 0) throw new Error('broker has not been started');
    return this.listenPort;
  }

  get host(): string {
    return this.listenHost;
  }

  /** Bootstrap list for Kafka clients, e.g. ['127.0.0.1:40123']. */
  get brokers(): string[] {
    return [`${this.listenHost}:${this.port}`];
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Starts listening (again, on the same port and with the same data after a stop()). */
  async start(): Promise<void> {
    if (this.server) throw new Error('broker is already running');
    const server = createServer((socket: Socket) => {
      // A stopped process does not accept(), but the kernel still completes the handshake: the
      // client sees a connection that never answers, which is what a frozen connection is.
      const conn = new BrokerConnection(socket, this.state, this.onError, this.isFrozen);
      this.connections.add(conn);
      socket.once('close', () => this.connections.delete(conn));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.listenPort, host: this.listenHost }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    this.listenPort = address.port;
    this.server = server;
    this.state.groups.resume();
  }

  /** An outage: stops listening and drops every client connection. Data is kept. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // A stopped process is no longer a frozen one: the next start() answers.
    this.isFrozen = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const conns = [...this.connections];
    for (const c of conns) c.destroy();
    await Promise.all([closed, ...conns.map((c) => c.closed)]);
    this.state.groups.suspend();
  }

  /**
   * A broker that stops answering (like a process stopped with SIGSTOP, or a hung JVM): sockets
   * stay open and new connections are still accepted, but no request is read, handled or answered,
   * so clients see requests time out rather than connections fail. Timers keep running, as Kafka's
   * deadlines are wall-clock ones: a freeze longer than a consumer's session timeout expires it.
   */
  freeze(): void {
    this.isFrozen = true;
    for (const c of this.connections) c.freeze();
  }

  /**
   * Resumes a frozen broker: every request that waited is read, handled and answered in order, as a
   * resumed process does (a produce the client already gave up on is still written; the idempotent
   * producer's sequence numbers are what keep its re-send from being written twice).
   */
  thaw(): void {
    this.isFrozen = false;
    for (const c of this.connections) c.thaw();
  }

  get frozen(): boolean {
    return this.isFrozen;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Answers the next matching request(s) with `errorCode`; an injected Produce error stores nothing. */
  failNext(fault: FaultSpec): void {
    this.state.faults.add(fault);
  }

  clearFaults(): void {
    this.state.faults.clear();
  }

  /** Injected faults not used up yet. */
  pendingFaults(): number {
    return this.state.faults.pending();
  }

  createTopic(topic: string, partitions?: number): void {
    this.state.store.createTopic(topic, partitions);
  }

  topics(): TopicSummary[] {
    const { store } = this.state;
    return store.topicNames().map((name) => {
      const logs = store.partitions(name) ?? [];
      return { name, partitions: logs.length, highWatermarks: logs.map((l) => l.highWatermark) };
    });
  }

  /** Stored records of a topic (one partition, or all in partition then offset order); [] for an unknown topic. */
  records(topic: string, partition?: number): BrokerRecord[] {
    const logs = this.state.store.partitions(topic) ?? [];
    return logs.filter((l) => partition === undefined || l.partition === partition).flatMap((l) => l.records());
  }

  committedOffsets(groupId: string): CommittedOffset[] {
    return this.state.offsets.list(groupId);
  }

  group(groupId: string): GroupDescription | undefined {
    return this.state.groups.describe(groupId);
  }
}
