import type { ErasePersonalDataRequest, ErasePersonalDataResponse } from '../../generated/audit/v1/audit_service.js';
import { call, connect, EXIT, UsageError } from './client.js';
import type { ConnectionFlags } from './options.js';
import { out, outJson } from './output.js';

export interface EraseFlags extends ConnectionFlags {
  readonly user?: string | undefined;
  readonly metadata?: string | undefined;
  readonly reason: string;
}

/** `auditstream erase`: erases a data subject's personal data, by user id or by a metadata key=value. */
export async function eraseCommand(flags: EraseFlags): Promise<number> {
  if ((flags.user === undefined) === (flags.metadata === undefined)) throw new UsageError('erase: give exactly one of --user or --metadata key=value');
  let subject: ErasePersonalDataRequest['subject'];
  if (flags.user !== undefined) subject = { $case: 'userId', userId: flags.user };
  else {
    const at = flags.metadata!.indexOf('=');
    if (at <= 0) throw new UsageError('--metadata: expected key=value, e.g. email=alice@example.com');
    subject = { $case: 'metadata', metadata: { key: flags.metadata!.slice(0, at), value: flags.metadata!.slice(at + 1) } };
  }
  const client = connect(flags);
  try {
    const r = await call<ErasePersonalDataResponse>((cb) => client.erasePersonalData({ subject, reason: flags.reason }, cb));
    if (flags.json) outJson(r);
    else out(`erased ${r.valuesErased} values in ${r.eventsChanged} events; recorded as erasure ${r.erasureId} (sequence ${r.recordSequence})`);
    return EXIT.OK;
  } finally {
    client.close();
  }
}
