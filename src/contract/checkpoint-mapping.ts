import type { Checkpoint as ProtoCheckpoint } from '../../generated/audit/v1/audit_service.js';
import type { Checkpoint } from '../domain/checkpoint.js';

export function toProtoCheckpoint(cp: Checkpoint): ProtoCheckpoint {
  return { sequence: cp.sequence, hash: Buffer.from(cp.hash), time: cp.time, signature: Buffer.from(cp.signature), keyId: cp.keyId };
}
