import { createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { type Checkpoint, checkpointSignedBy, signCheckpoint } from '../domain/checkpoint.js';
import type { StoredAuditEvent } from '../domain/event.js';
import type { AppendResult, Clock, EventLog } from '../domain/ports.js';
import { CheckpointFile } from './checkpoint-file.js';

export interface CheckpointSettings {
  readonly keyFile: string;
  readonly file: string;
  readonly everyEvents: number;
  readonly everyMs: number;
}

/**
 * What a checkpoint says about the log now: undefined when the log agrees, else the sequences involved.
 * A log whose head is behind the checkpoint was cut (or restored from an older copy); a different hash
 * at the checkpointed sequence means it was rewritten. A checkpoint older than what retention kept can
 * no longer be compared.
 */
export function disagreement(log: Pick<EventLog, 'lastSequence' | 'firstSequence' | 'readAfter' | 'readStored'>, cp: Checkpoint): string | undefined {
  const last = log.lastSequence();
  const signed = `the checkpoint signed ${cp.time.toISOString()} covers sequence ${cp.sequence}`;
  if (last < cp.sequence) return `the log ends at sequence ${last} but ${signed}: sequences ${last + 1}..${cp.sequence} are missing (cut, or restored from an older copy)`;
  if (cp.sequence < log.firstSequence()) return undefined;
  const event: StoredAuditEvent | undefined = log.readStored ? log.readStored(cp.sequence) : log.readAfter(cp.sequence - 1, 1)[0];
  if (event?.sequence !== cp.sequence) return `sequence ${cp.sequence} is missing although ${signed}`;
  if (!Buffer.from(event.hash).equals(cp.hash)) {
    return `sequence ${cp.sequence} has hash ${Buffer.from(event.hash).toString('hex')} but ${signed} with hash ${Buffer.from(cp.hash).toString('hex')}: the log was rewritten`;
  }
  return undefined;
}

/**
 * Signs the log's head every `everyEvents` stored events and every `everyMs` when there is anything new
 * (and once more at shutdown), appends each checkpoint to its own file, and tells listeners (heartbeats,
 * the Kafka checkpoints topic). Opening it compares the newest checkpoint with the log and refuses a
 * log that was cut or rewritten, so no sequence a checkpoint covers is ever handed out again.
 */
export class Checkpointer {
  private newestCheckpoint?: Checkpoint | undefined;
  private head?: { sequence: number; hash: Uint8Array };
  private sinceSigned = 0;
  private timer?: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(cp: Checkpoint) => void>();

  private constructor(
    private readonly key: KeyObject,
    private readonly file: CheckpointFile,
    private readonly settings: CheckpointSettings,
    private readonly clock: Clock,
    private readonly report: (err: unknown) => void,
  ) {}

  /** `report`: told when a checkpoint could not be written (the log goes on; the next one tries again). */
  static open(settings: CheckpointSettings, log: EventLog, clock: Clock, report: (err: unknown) => void): Checkpointer {
    let key: KeyObject;
    try {
      key = createPrivateKey(fs.readFileSync(settings.keyFile));
    } catch (err) {
      throw new Error(`storage.checkpoints.key_file ${settings.keyFile}: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`storage.checkpoints.key_file ${settings.keyFile}: an Ed25519 private key is needed, not ${key.asymmetricKeyType}`);
    const checkpointer = new Checkpointer(key, new CheckpointFile(settings.file), settings, clock, report);
    const newest = checkpointer.file.newest();
    if (newest) {
      if (!checkpointSignedBy(key, newest)) throw new Error(`${settings.file}: its newest checkpoint is not signed by ${settings.keyFile} (the file or the key was replaced)`);
      const problem = disagreement(log, newest);
      if (problem) throw new Error(`${problem}. Restore a backup that reaches sequence ${newest.sequence}; the server refuses to hand out those sequences again`);
    }
    checkpointer.newestCheckpoint = newest;
    const last = log.lastSequence();
    const head = last > 0 ? log.readAfter(last - 1, 1)[0] : undefined;
    if (head) checkpointer.head = { sequence: head.sequence, hash: head.hash };
    return checkpointer;
  }

  start(): void {
    this.timer = setInterval(() => this.signIfNew(), this.settings.everyMs).unref();
  }

  /** Signs what is new, then stops. */
  stop(): void {
    clearInterval(this.timer);
    this.signIfNew();
  }

  newest(): Checkpoint | undefined {
    return this.newestCheckpoint;
  }

  onCheckpoint(listener: (cp: Checkpoint) => void): void {
    this.listeners.add(listener);
  }

  /** Told after each group commit. */
  stored(results: readonly AppendResult[]): void {
    for (const { event, duplicate } of results) {
      if (duplicate || (this.head && event.sequence <= this.head.sequence)) continue;
      this.head = { sequence: event.sequence, hash: event.hash };
      this.sinceSigned++;
    }
    if (this.sinceSigned >= this.settings.everyEvents) this.signIfNew();
  }

  private signIfNew(): void {
    const head = this.head;
    if (!head || (this.newestCheckpoint && head.sequence <= this.newestCheckpoint.sequence)) return;
    const cp = signCheckpoint(this.key, head.sequence, head.hash, this.clock.now());
    try {
      this.file.append(cp);
    } catch (err) {
      this.report(err);
      return;
    }
    this.newestCheckpoint = cp;
    this.sinceSigned = 0;
    for (const listener of this.listeners) listener(cp);
  }
}
