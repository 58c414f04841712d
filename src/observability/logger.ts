import { pino, type Logger } from 'pino';
import { activeTraceIds } from '../lib/tracing.js';

export type { Logger };

/** JSON logs on stdout, each line with the active trace id when tracing is on. Event payloads and secrets are never logged. */
export function createLogger(level: string): Logger {
  return pino({ name: 'auditstream', level, mixin: activeTraceIds });
}
