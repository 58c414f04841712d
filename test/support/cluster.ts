/** Cluster-mode nodes as child processes sharing one topic on the Kafka test broker. */
import { credentials } from '@grpc/grpc-js';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';
import type { KafkaTestBroker } from './kafka-broker/index.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

export const CLUSTER_TOPIC = 'auditstream.cluster-test';
export const CLUSTER_PARTITIONS = 4;

export interface ClusterNode {
  readonly name: string;
  readonly process: ServerProcess;
  readonly client: AuditServiceClient;
}

/** `auditstream serve` with storage.type kafka against the test broker. */
export async function startNode(broker: KafkaTestBroker, name: string): Promise<ClusterNode> {
  const config = [
    'logging:', '  level: info',
    'audit:', '  subscriber:', '    heartbeat_interval: 200ms',
    'storage:', '  type: kafka',
    // Short retry and breaker timings, so an outage test runs in seconds.
    'kafka:', `  brokers: [${broker.brokers.join(', ')}]`, '  retry_delay: 20', '  retry_backoff: 200', '  max_retries: 2',
    '  request_timeout: 5s', '  circuit_breaker: { threshold: 3, half_open_after: 200 }',
    'cluster:', `  topic: ${CLUSTER_TOPIC}`, `  partitions: ${CLUSTER_PARTITIONS}`, `  node_id: ${name}`, '  publish_timeout: 3s',
    '',
  ].join('\n');
  const process = await startServerProcess(config, undefined, '  health_check_interval: 200ms\n');
  return { name, process, client: new AuditServiceClient(`127.0.0.1:${process.grpcPort}`, credentials.createInsecure()) };
}

export async function stopNodes(nodes: readonly ClusterNode[]): Promise<void> {
  for (const node of nodes) node.client.close();
  await Promise.all(nodes.map((n) => (n.process.child.exitCode === null && n.process.child.signalCode === null ? n.process.stop() : n.process.exited)));
}
