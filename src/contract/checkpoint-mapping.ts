import type { Checkpoint as ProtoCheckpoint } from '../../generated/audit/v1/audit_service.js';
import type { Checkpoint } from '../domain/checkpoint.js';
import { toTimestamp } from './time-mapping.js';

export function toProtoCheckpoint(cp: Checkpoint): ProtoCheckpoint {
  return { sequence: cp.sequence, hash: Buffer.from(cp.hash), time: toTimestamp(cp.time), signature: Buffer.from(cp.signature), keyId: cp.keyId };
}
