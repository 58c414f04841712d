import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import { type QueryResponse, QueryOrder } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { type Checkpoint, checkpointFromJson, checkpointSignedBy } from '../domain/checkpoint.js';
import { disagreement } from '../store/checkpointer.js';
import { connect, EXIT, UsageError } from './client.js';
import type { ConnectionFlags } from './options.js';
import { out, outJson } from './output.js';

export interface CheckpointFlags extends ConnectionFlags {
  readonly checkpoint: string;
  readonly publicKey?: string | undefined;
  readonly offline?: string | undefined;
}

function verdict(flags: CheckpointFlags, ok: boolean, text: string, extra: Record<string, unknown> = {}): number {
  if (flags.json) outJson({ ok, ...extra, message: text });
  else out(text);
  return ok ? EXIT.OK : EXIT.FAILED;
}

/**
 * `verify --checkpoint FILE --public-key PEM`: checks a checkpoint's signature offline, then holds the
 * log to it (a running server through Query, or a database file with --offline): a log that ends
 * before the checkpoint was cut, a different hash at its sequence means it was rewritten. FILE is one
 * JSON checkpoint: a line of the checkpoints file, GetCheckpoint's, or a heartbeat's.
 */
export async function verifyCheckpointCommand(flags: CheckpointFlags): Promise<number> {
  if (!flags.publicKey) throw new UsageError('--checkpoint needs --public-key PEM (the server\'s checkpoint public key)');
  let cp: Checkpoint;
  try {
    const json = JSON.parse(fs.readFileSync(flags.checkpoint, 'utf8')) as Record<string, unknown>;
    cp = checkpointFromJson(json.checkpoint ?? json);
  } catch (err) {
    throw new UsageError(`--checkpoint ${flags.checkpoint}: ${(err as Error).message}`);
  }
  if (!checkpointSignedBy(createPublicKey(fs.readFileSync(flags.publicKey)), cp)) {
    return verdict(flags, false, `checkpoint NOT signed by ${flags.publicKey}: it proves nothing`, { signed: false });
  }
  const problem = flags.offline ? await againstFile(flags.offline, cp) : await againstServer(flags, cp);
  const where = { signed: true, sequence: cp.sequence, keyId: cp.keyId, time: cp.time.toISOString() };
  if (problem) return verdict(flags, false, `log DOES NOT MATCH the checkpoint: ${problem}`, where);
  return verdict(flags, true, `checkpoint verified: signed by ${cp.keyId} at ${cp.time.toISOString()}, and the log holds sequence ${cp.sequence} with that hash`, where);
}

async function againstFile(file: string, cp: Checkpoint): Promise<string | undefined> {
  const { SqliteEventLog } = await import('../store/sqlite-event-log.js');
  const log = new SqliteEventLog({ path: file, clock: { now: () => new Date() }, readOnly: true });
  try {
    return disagreement(log, cp);
  } finally {
    await log.close();
  }
}

/** The event at the checkpoint's sequence, through Query (first page after sequence - 1). */
async function againstServer(flags: ConnectionFlags, cp: Checkpoint): Promise<string | undefined> {
  const client = connect(flags);
  try {
    const events = await new Promise<AuditEvent[]>((resolve, reject) => {
      const out: AuditEvent[] = [];
      const call = client.query({ filter: undefined, order: QueryOrder.QUERY_ORDER_ASCENDING, limit: 1, pageToken: String(cp.sequence - 1) });
      call.on('data', (m: QueryResponse) => m.kind?.$case === 'events' && out.push(...m.kind.events.events));
      call.on('error', reject);
      call.on('end', () => resolve(out));
    });
    const event = events[0];
    const signed = `the checkpoint signed ${cp.time.toISOString()} covers sequence ${cp.sequence}`;
    if (!event || Number(event.sequence) > cp.sequence) return `sequence ${cp.sequence} is not in the log although ${signed} (cut, or not visible to this caller)`;
    if (!Buffer.from(event.hash).equals(cp.hash)) return `sequence ${cp.sequence} has another hash than ${signed}: the log was rewritten`;
    return undefined;
  } finally {
    client.close();
  }
}
