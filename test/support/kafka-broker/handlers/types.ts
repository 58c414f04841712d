/** What every API handler gets: the decoded header, the broker's state, and a cancellation signal. */
import type { Reader, Writer } from '../codec.js';
import type { CommittedOffsets } from '../committed-offsets.js';
import type { FaultInjector } from '../faults.js';
import type { GroupCoordinator } from '../group-coordinator.js';
import type { LogStore } from '../log-store.js';
import type { ProducerIdAllocator } from '../producer-state.js';

export interface BrokerConfig {
  readonly nodeId: number;
  readonly host: string;
  /** The port currently listened on. */
  readonly port: number;
  readonly clusterId: string;
  readonly autoCreateTopics: boolean;
  /** Largest record batch accepted by Produce (Kafka's message.max.bytes). */
  readonly maxMessageBytes: number;
}

export interface BrokerState {
  readonly config: BrokerConfig;
  readonly store: LogStore;
  readonly groups: GroupCoordinator;
  readonly offsets: CommittedOffsets;
  readonly producerIds: ProducerIdAllocator;
  readonly faults: FaultInjector;
}

export interface RequestContext {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly clientId: string;
  readonly broker: BrokerState;
  /** Aborted when the connection closes or the broker stops (ends long polls). */
  readonly signal: AbortSignal;
}

export interface ApiHandler {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Decodes the request body and returns the response body, or null when no response is due (acks=0). */
  handle(body: Reader, ctx: RequestContext): Promise<Writer | null> | Writer | null;
}
