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
    'storage:', '  type: kafka',
    'kafka:', `  brokers: [${broker.brokers.join(', ')}]`, '  retry_delay: 20', '  request_timeout: 5s',
    'cluster:', `  topic: ${CLUSTER_TOPIC}`, `  partitions: ${CLUSTER_PARTITIONS}`, `  node_id: ${name}`,
    '',
  ].join('\n');
  const process = await startServerProcess(config);
  return { name, process, client: new AuditServiceClient(`127.0.0.1:${process.grpcPort}`, credentials.createInsecure()) };
}

export async function stopNodes(nodes: readonly ClusterNode[]): Promise<void> {
  for (const node of nodes) node.client.close();
  await Promise.all(nodes.map((n) => (n.process.child.exitCode === null && n.process.child.signalCode === null ? n.process.stop() : n.process.exited)));
}
