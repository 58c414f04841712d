import type { GetStatsResponse, VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import { call, connect, EXIT, UsageError } from './client.js';

/** `auditstream stats`: the service-wide figures, as aligned text or --json. */
export async function statsCommand(flags: { server: string; json: boolean }): Promise<number> {
  const client = connect(flags.server);
  try {
    const s = await call<GetStatsResponse>((cb) => client.getStats({}, cb));
    if (flags.json) {
      console.log(JSON.stringify(s));
      return EXIT.OK;
    }
    const rows: Array<[string, unknown]> = [
      ['events published', s.eventsPublished], ['events failed', s.eventsFailed], ['events dropped', s.eventsDropped],
      ['duplicates', s.duplicates], ['last sequence', s.lastSequence], ['active subscriptions', s.activeSubscriptions],
      ...s.lanes.map((l): [string, unknown] => [`queue ${l.name}`, `${l.size} / ${l.capacity}`]),
      ['started at', s.startedAt?.toISOString()],
    ];
    for (const [name, value] of rows) console.log(`${name.padEnd(22)}${String(value)}`);
    return EXIT.OK;
  } finally {
    client.close();
  }
}

/** `auditstream verify`: checks the hash chain; exits 1 when it is broken. */
export async function verifyCommand(flags: { server: string; from?: string; to?: string; offline?: string }): Promise<number> {
  const seq = (value: string | undefined, flag: string): number => {
    if (value === undefined) return 0;
    if (!/^\d+$/.test(value)) throw new UsageError(`${flag}: expected a sequence number`);
    return Number(value);
  };
  const request = { fromSequence: seq(flags.from, '--from'), toSequence: seq(flags.to, '--to') };
  if (flags.offline !== undefined) return verifyOffline(flags.offline, request);
  const client = connect(flags.server);
  try {
    const r = await call<VerifyChainResponse>((cb) => client.verifyChain(request, cb));
    return report(r);
  } finally {
    client.close();
  }
}

/**
 * `verify --offline PATH`: a database file with no server running, opened read-only: SQLite's
 * integrity check, then the hash chain. Exit 1 when either fails.
 */
async function verifyOffline(file: string, range: { fromSequence: number; toSequence: number }): Promise<number> {
  const { SqliteEventLog } = await import('../store/sqlite-event-log.js');
  let log;
  try {
    log = new SqliteEventLog({ path: file, clock: { now: () => new Date() }, readOnly: true });
  } catch (err) {
    console.log(`DAMAGED: ${(err as Error).message}`);
    return EXIT.FAILED;
  }
  try {
    return report(log.verifyChain(range.fromSequence || undefined, range.toSequence || undefined));
  } catch (err) {
    console.log(`DAMAGED: ${(err as Error).message}`);
    return EXIT.FAILED;
  } finally {
    await log.close();
  }
}

function report(r: Omit<VerifyChainResponse, 'firstBreak'> & { firstBreak?: { sequence: number; kind: string } }): number {
  const range = `${r.firstSequence}..${r.lastSequence}`;
  if (r.ok) {
    console.log(`chain intact: ${r.checked} events verified (${range})`);
    return EXIT.OK;
  }
  console.log(`chain BROKEN at sequence ${r.firstBreak?.sequence}: ${r.firstBreak?.kind} (${r.checked} events verified before it, range ${range})`);
  return EXIT.FAILED;
}
