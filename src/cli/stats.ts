import type { GetStatsResponse, VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import { timestampText } from '../contract/time-mapping.js';
import { call, connect, EXIT, UsageError } from './client.js';
import type { ConnectionFlags } from './options.js';
import { out, outJson } from './output.js';

export interface VerifyFlags extends ConnectionFlags {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly offline?: string | undefined;
}

/** `auditstream stats`: the service-wide figures, as aligned text or --json. */
export async function statsCommand(flags: ConnectionFlags): Promise<number> {
  const client = connect(flags);
  try {
    const s = await call<GetStatsResponse>((cb) => client.getStats({}, cb));
    if (flags.json) {
      outJson(s);
      return EXIT.OK;
    }
    const rows: Array<[string, unknown]> = [
      ['events published', s.eventsPublished], ['events failed', s.eventsFailed], ['events dropped', s.eventsDropped],
      ['duplicates', s.duplicates], ['last sequence', s.lastSequence], ['active subscriptions', s.activeSubscriptions],
      ...s.lanes.map((l): [string, unknown] => [`queue ${l.name}`, `${l.size} / ${l.capacity}`]),
      ...(s.kafka ? [['kafka circuit', s.kafka.circuitState], ['kafka lag', s.kafka.lag], ['kafka dead letters', s.kafka.deadLetters]] as Array<[string, unknown]> : []),
      ['started at', timestampText(s.startedAt)],
    ];
    for (const [name, value] of rows) out(`${name.padEnd(22)}${String(value)}`);
    return EXIT.OK;
  } finally {
    client.close();
  }
}

/** `auditstream verify`: checks the hash chain; exits 1 when it is broken. */
export async function verifyCommand(flags: VerifyFlags): Promise<number> {
  const seq = (value: string | undefined, flag: string): number => {
    if (value === undefined) return 0;
    if (!/^\d+$/.test(value)) throw new UsageError(`${flag}: expected a sequence number`);
    return Number(value);
  };
  const request = { fromSequence: seq(flags.from, '--from'), toSequence: seq(flags.to, '--to') };
  if (flags.offline !== undefined) return verifyOffline(flags.offline, request, flags.json);
  const client = connect(flags);
  try {
    const r = await call<VerifyChainResponse>((cb) => client.verifyChain(request, cb));
    return report(r, flags.json);
  } finally {
    client.close();
  }
}

/**
 * `verify --offline PATH`: a database file with no server running, opened read-only: SQLite's
 * integrity check, then the hash chain. Exit 1 when either fails.
 */
async function verifyOffline(file: string, range: { fromSequence: number; toSequence: number }, json: boolean): Promise<number> {
  const { SqliteEventLog } = await import('../store/sqlite-event-log.js');
  let log;
  try {
    log = new SqliteEventLog({ path: file, clock: { now: () => new Date() }, readOnly: true });
  } catch (err) {
    damaged(err, json);
    return EXIT.FAILED;
  }
  try {
    return report(log.verifyChain(range.fromSequence || undefined, range.toSequence || undefined), json);
  } catch (err) {
    damaged(err, json);
    return EXIT.FAILED;
  } finally {
    await log.close();
  }
}

function damaged(err: unknown, json: boolean): void {
  if (json) outJson({ ok: false, damaged: (err as Error).message });
  else out(`DAMAGED: ${(err as Error).message}`);
}

function report(r: Omit<VerifyChainResponse, 'firstBreak'> & { firstBreak?: { sequence: number; kind: string } | undefined }, json: boolean): number {
  const range = `${r.firstSequence}..${r.lastSequence}`;
  if (json) {
    outJson({ ok: r.ok, checked: r.checked, firstSequence: r.firstSequence, lastSequence: r.lastSequence, firstBreak: r.firstBreak });
    return r.ok ? EXIT.OK : EXIT.FAILED;
  }
  if (r.ok) {
    out(`chain intact: ${r.checked} events verified (${range})`);
    return EXIT.OK;
  }
  out(`chain BROKEN at sequence ${r.firstBreak?.sequence}: ${r.firstBreak?.kind} (${r.checked} events verified before it, range ${range})`);
  return EXIT.FAILED;
}
