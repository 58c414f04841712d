export { KafkaTestBroker, type BrokerRecord, type KafkaTestBrokerOptions, type TopicSummary } from './broker.js';
export type { CommittedOffset } from './committed-offsets.js';
export type { FaultSpec } from './faults.js';
export type { GroupDescription } from './group-coordinator.js';
export { supportedVersions } from './handlers/index.js';
export { ApiKey, type ApiName, ErrorCode } from './protocol.js';
export type { RecordHeader } from './record-batch.js';
