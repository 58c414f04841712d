import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout. Event payloads and secrets are never logged. */
export function createLogger(level: string): Logger {
  return pino({ name: 'auditstream', level });
}
