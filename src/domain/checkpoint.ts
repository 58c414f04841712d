import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** A signed statement that the log held `sequence` with `hash` at `time` (storage.checkpoints). */
export interface Checkpoint {
  readonly sequence: number;
  readonly hash: Uint8Array;
  readonly time: Date;
  /** Ed25519 over checkpointText(). */
  readonly signature: Uint8Array;
  /** The first 16 hex digits of SHA-256 over the public key (SPKI DER). */
  readonly keyId: string;
}

/** What is signed: a versioned line per field, so the statement cannot be read two ways. */
export function checkpointText(sequence: number, hash: Uint8Array, time: Date): Buffer {
  return Buffer.from(`auditstream-checkpoint-v1\n${sequence}\n${Buffer.from(hash).toString('hex')}\n${time.toISOString()}`, 'utf8');
}

export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function signCheckpoint(privateKey: KeyObject, sequence: number, hash: Uint8Array, time: Date): Checkpoint {
  return { sequence, hash, time, signature: sign(null, checkpointText(sequence, hash, time), privateKey), keyId: keyIdOf(privateKey) };
}

/** Whether the checkpoint was signed by this key (a public key, or the private key it derives from). */
export function checkpointSignedBy(key: KeyObject, cp: Checkpoint): boolean {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  try {
    return verify(null, checkpointText(cp.sequence, cp.hash, cp.time), publicKey, cp.signature);
  } catch {
    return false;
  }
}

/** The JSON form kept in the checkpoints file and printed by the CLI. */
export interface CheckpointJson {
  readonly sequence: number;
  readonly hash: string;
  readonly time: string;
  readonly signature: string;
  readonly keyId: string;
}

export function checkpointToJson(cp: Checkpoint): CheckpointJson {
  return {
    sequence: cp.sequence, hash: Buffer.from(cp.hash).toString('hex'), time: cp.time.toISOString(),
    signature: Buffer.from(cp.signature).toString('base64'), keyId: cp.keyId,
  };
}

/** Reads the JSON form (hex or base64 hash, as files and heartbeats carry it); throws on anything else. */
export function checkpointFromJson(json: unknown): Checkpoint {
  const j = json as Partial<Record<keyof CheckpointJson, unknown>>;
  const bytes = (v: unknown, what: string): Buffer => {
    if (typeof v !== 'string') throw new Error(`checkpoint: ${what} is missing`);
    return /^[0-9a-f]{64}$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  };
  const sequence = Number(j.sequence);
  const time = new Date(String(j.time));
  if (!Number.isSafeInteger(sequence) || sequence < 1 || Number.isNaN(time.getTime()) || typeof j.keyId !== 'string') {
    throw new Error('checkpoint: expected {"sequence","hash","time","signature","keyId"}');
  }
  return { sequence, hash: bytes(j.hash, 'hash'), time, signature: bytes(j.signature, 'signature'), keyId: j.keyId };
}
