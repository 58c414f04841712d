import { credentials, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';

import { UsageError } from './usage.js';

export { EXIT, UsageError } from './usage.js';

export function connect(server: string): AuditServiceClient {
  return new AuditServiceClient(server, credentials.createInsecure());
}

/** A unary call as a promise. */
export function call<Res>(start: (cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

/** "1h", "30m", "90s" ago, or an ISO-8601 time. */
export function parseTime(text: string, flag: string, now = Date.now()): Date {
  const relative = /^(\d+)(s|m|h|d)$/.exec(text);
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(relative[1]) * unit);
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new UsageError(`${flag}: expected a duration ago (1h, 30m) or an ISO-8601 time, got "${text}"`);
  return time;
}
