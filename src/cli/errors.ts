import { CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import type { ConnectionFlags } from './options.js';
import { EXIT, UsageError } from './usage.js';

/** gRPC status names by code, without loading grpc-js (`serve` loads it after telemetry starts). */
const STATUS = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export interface RpcError {
  readonly code: number;
  readonly details?: string | undefined;
}

export const isRpcError = (err: unknown): err is RpcError => typeof (err as { code?: unknown } | null)?.code === 'number';

/**
 * A failed call in words an operator can act on: the status name, the server's reason, and a hint
 * where the cause is usually on this side (no token, no TLS).
 */
export function describeRpcError(err: RpcError, flags?: Partial<ConnectionFlags>): string {
  const name = STATUS[err.code] ?? `status ${err.code}`;
  const details = err.details || 'no details';
  const tls = flags?.tls || flags?.cacert !== undefined || flags?.cert !== undefined;
  switch (name) {
    case 'UNAUTHENTICATED':
      return `UNAUTHENTICATED: ${details}${flags?.token ? '' : ' (no token given: pass --token or set AUDITSTREAM_TOKEN)'}`;
    case 'PERMISSION_DENIED':
      return `PERMISSION_DENIED: ${details} (the token's roles do not allow this)`;
    case 'UNAVAILABLE':
      return `UNAVAILABLE: cannot reach ${flags?.server ?? 'the server'}: ${details}${tls ? '' : ' (a TLS server needs --tls or --cacert)'}`;
    default:
      return `${name}: ${details}`;
  }
}

/** The exit code and message for whatever a command threw. */
export function failure(err: unknown, flags?: Partial<ConnectionFlags>): { code: number; message?: string | undefined } {
  if (err instanceof CommanderError) return { code: err.exitCode === 0 ? EXIT.OK : EXIT.USAGE };
  if (err instanceof UsageError || err instanceof ConfigError) return { code: EXIT.USAGE, message: err.message };
  if (isRpcError(err)) {
    return { code: STATUS[err.code] === 'INVALID_ARGUMENT' ? EXIT.USAGE : EXIT.FAILED, message: `auditstream: ${describeRpcError(err, flags)}` };
  }
  // An operator's terminal: the reason in one line (the service logs its own failures with stacks).
  return { code: EXIT.FAILED, message: `auditstream: ${err instanceof Error ? err.message : String(err)}` };
}
