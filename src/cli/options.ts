import { type Command, InvalidArgumentError, Option } from 'commander';

/**
 * The options every command that talks to a server shares, and the filter options of tail and query.
 * Nothing here loads grpc-js: `serve` must start telemetry before grpc-js is first loaded.
 */

/** How to reach the server, and as whom. */
export interface ConnectionFlags {
  readonly server: string;
  /** A bearer token (JWT), sent as `authorization: Bearer <token>` on every call. */
  readonly token?: string | undefined;
  /** TLS with the system's roots (implied by --cacert and --cert). */
  readonly tls?: boolean | undefined;
  readonly cacert?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly json: boolean;
}

/** The filter fields of tail and query (repeatable ones as lists). */
export interface FilterFlags {
  readonly type: string[];
  readonly severity: string[];
  readonly minSeverity?: string | undefined;
  readonly category: string[];
  readonly entityType: string[];
  readonly entityId: string[];
  readonly user: string[];
  readonly expression?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

export const TOKEN_ENV = 'AUDITSTREAM_TOKEN';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** A commander argument parser for a whole number. */
export const integer = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
};

/** --json alone: for the commands that do not talk to a server (restore, config). */
export function withJson(command: Command, what = 'JSON output (one object or one JSON line per item)'): Command {
  return command.option('--json', what, false);
}

/** --server, --token, --tls, --cacert, --cert, --key and --json. */
export function withConnection(command: Command): Command {
  command
    .addOption(new Option('-s, --server <host:port>', 'the gRPC address of the service').default('127.0.0.1:50051'))
    .addOption(new Option('--token <jwt>', 'bearer token sent as "authorization: Bearer <jwt>" on every call').env(TOKEN_ENV))
    .option('--tls', 'connect with TLS, trusting the system\'s root certificates', false)
    .option('--cacert <file>', 'TLS, trusting this CA certificate (PEM) instead of the system\'s roots')
    .option('--cert <file>', 'TLS client certificate (PEM) for mutual TLS; needs --key')
    .option('--key <file>', 'the private key (PEM) of --cert');
  return withJson(command);
}

/** The filter options, as tail and query take them. */
export function withFilter(command: Command): Command {
  return command
    .option('--type <type>', 'event type, e.g. LOGIN_FAILED (repeatable)', collect, [])
    .option('--severity <severity>', 'exact severity (repeatable)', collect, [])
    .option('--min-severity <severity>', 'at least this severity')
    .option('--category <category>', 'calls, bids, financial, compliance, security, data or system (repeatable)', collect, [])
    .option('--entity-type <type>', 'entity type (repeatable)', collect, [])
    .option('--entity-id <id>', 'entity id (repeatable)', collect, [])
    .option('--user <id>', 'user id (repeatable)', collect, [])
    .option('--expression <cel>', 'CEL expression over event, e.g. \'event.metadata.amount > 100.0\'')
    .option('--from <when>', 'events from this time: 1h, 30m, 2d ago or ISO-8601')
    .option('--to <when>', 'events up to this time: 1h, 30m, 2d ago or ISO-8601');
}

/** What the command that ran left for main: its exit code (-1: keep running), and its flags for error messages. */
export const outcome: { exitCode: number; flags?: Partial<ConnectionFlags> | undefined } = { exitCode: 0 };

/**
 * A commander action from a command function that takes its operands, then its flags (the command's
 * options with the program's), and resolves to the exit code.
 */
export function runs(command: (...args: never[]) => Promise<number> | number) {
  return async (...args: unknown[]): Promise<void> => {
    const flags = (args.at(-1) as Command).optsWithGlobals<Partial<ConnectionFlags>>();
    outcome.flags = flags;
    outcome.exitCode = await (command as (...a: unknown[]) => Promise<number> | number)(...args.slice(0, -2), flags);
  };
}
