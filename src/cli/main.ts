#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../config/load.js';
import { EXIT, UsageError } from './usage.js';

// Commands are imported when they run: `serve` must start telemetry before grpc-js is first loaded.
const commands = {
  publish: async (flags: import('./publish.js').PublishFlags) => (await import('./publish.js')).publishCommand(flags),
  tail: async (flags: import('./tail.js').TailFlags) => (await import('./tail.js')).tailCommand(flags),
  stats: async (flags: { server: string; json: boolean }) => (await import('./stats.js')).statsCommand(flags),
  verify: async (flags: { server: string; from?: string; to?: string; offline?: string; checkpoint?: string; publicKey?: string }) =>
    (flags.checkpoint !== undefined
      ? (await import('./verify-checkpoint.js')).verifyCheckpointCommand({ ...flags, checkpoint: flags.checkpoint })
      : (await import('./stats.js')).verifyCommand(flags)),
  erase: async (flags: import('./erase.js').EraseFlags) => (await import('./erase.js')).eraseCommand(flags),
  backup: async (dest: string, flags: { server: string; json: boolean }) => (await import('./backup.js')).backupCommand(dest, flags),
  restore: async (src: string, flags: import('./backup.js').RestoreFlags) => (await import('./backup.js')).restoreCommand(src, flags),
};
const INVALID_ARGUMENT = 3; // gRPC status codes, without loading grpc-js here

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const serverOption = (): Option => new Option('-s, --server <host:port>', 'the gRPC address of the service').default('127.0.0.1:50051');

/** Each command's action resolves to its exit code. */
let exitCode: number = EXIT.OK;
const run = <F>(command: (flags: F) => Promise<number>) => async (flags: F): Promise<void> => {
  exitCode = await command(flags);
};

const program = new Command()
  .name('auditstream')
  .description('gRPC-first real-time audit event service')
  .exitOverride()
  .showHelpAfterError();

program.command('serve')
  .description('run the service (embedded defaults when no config file is given)')
  .option('-c, --config <file>', 'YAML configuration file')
  .action(async (opts: { config?: string }) => {
    const { serve } = await import('../main.js');
    await serve(opts.config);
    exitCode = -1; // keep running until a signal
  });

program.command('publish')
  .description('publish one event from flags, or JSON lines from stdin (proto JSON; short enum names accepted)')
  .addOption(serverOption())
  .option('--type <type>', 'event type, e.g. LOGIN_FAILED (one event from flags)')
  .option('--severity <severity>', 'INFO, LOW, MEDIUM, HIGH or CRITICAL (default: the type\'s)')
  .option('--user <id>', 'acting user id')
  .option('--entity-type <type>', 'entity type, e.g. call')
  .option('--entity-id <id>', 'entity id')
  .option('--action <action>', 'what was done, e.g. create')
  .option('--result <result>', 'SUCCESS, FAILURE or PARTIAL')
  .option('--metadata <json>', 'metadata as a JSON object')
  .option('--id <uuid>', 'event id (idempotency key)')
  .option('--correlation-id <id>', 'correlation id')
  .option('--source <service>', 'emitting service')
  .action(run(commands.publish));

program.command('tail')
  .description('subscribe and print matching events; reconnects and resumes if the server goes away')
  .addOption(serverOption())
  .option('--type <type>', 'event type (repeatable)', collect, [])
  .option('--severity <severity>', 'exact severity (repeatable)', collect, [])
  .option('--min-severity <severity>', 'at least this severity')
  .option('--entity-type <type>', 'entity type (repeatable)', collect, [])
  .option('--entity-id <id>', 'entity id (repeatable)', collect, [])
  .option('--user <id>', 'user id (repeatable)', collect, [])
  .option('--expression <cel>', 'CEL expression over event')
  .option('--from <when>', 'replay from a time: 1h, 30m, 2d ago or ISO-8601')
  .option('--to <when>', 'stop at a time (the stream ends when it passes)')
  .option('--after <sequence>', 'resume after this sequence')
  .option('--json', 'proto JSON lines instead of coloured text', false)
  .addOption(new Option('--retries <n>', 'reconnect attempts').default(10).argParser((v) => Number.parseInt(v, 10)))
  .action(run(commands.tail));

program.command('stats')
  .description('service-wide counters and queue sizes')
  .addOption(serverOption())
  .option('--json', 'JSON output', false)
  .action(run(commands.stats));

program.command('verify')
  .description('verify the hash chain; exit 1 when broken')
  .addOption(serverOption())
  .option('--from <sequence>', 'first sequence (default: oldest kept)')
  .option('--to <sequence>', 'last sequence (default: newest)')
  .option('--offline <path>', 'check a database file directly, with no server running (integrity, then the chain)')
  .option('--checkpoint <file>', 'check a signed checkpoint (JSON) and hold the log to it: cut or rewritten?')
  .option('--public-key <pem>', 'the server\'s checkpoint public key, for --checkpoint')
  .action(run(commands.verify));

program.command('erase')
  .description('erase a data subject\'s personal data (admin, compliance); the chain still verifies')
  .addOption(serverOption())
  .option('--user <id>', 'every event of this user id')
  .option('--metadata <key=value>', 'every event whose metadata key holds this value')
  .option('--reason <text>', 'why (a ticket or request reference), kept in the erasure\'s audit event', '')
  .option('--json', 'JSON output', false)
  .action(run(commands.erase));

program.command('backup')
  .description('copy the log of the running server (admin; storage.type sqlite) to DEST, its head to DEST.head.json')
  .argument('<dest>', 'the file to write (replaced only once the copy is complete)')
  .addOption(serverOption())
  .option('--json', 'JSON output', false)
  .action(async (dest: string, flags: { server: string; json: boolean }) => {
    exitCode = await commands.backup(dest, flags);
  });

program.command('restore')
  .description('with the server stopped: verify a backup (integrity, hash chain, SRC.head.json) and replace the log with it')
  .argument('<src>', 'the backup file')
  .option('--db <path>', 'the log to replace (default: storage.path of --config, else ./data/auditstream.db)')
  .option('-c, --config <file>', 'YAML configuration file naming the log (storage.path)')
  .option('--json', 'JSON output', false)
  .action(async (src: string, flags: import('./backup.js').RestoreFlags) => {
    exitCode = await commands.restore(src, flags);
  });

try {
  await program.parseAsync(process.argv);
  if (exitCode >= 0) process.exit(exitCode);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  if (err instanceof UsageError || err instanceof ConfigError) {
    console.error(err.message);
    process.exit(EXIT.USAGE);
  }
  const grpc = err as { code?: unknown; details?: string };
  if (typeof grpc.code === 'number') {
    console.error(`gRPC status ${grpc.code}: ${grpc.details}`);
    process.exit(grpc.code === INVALID_ARGUMENT ? EXIT.USAGE : EXIT.FAILED);
  }
  // An operator's terminal: the reason in one line (the service logs its own failures with stacks).
  console.error(`auditstream: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(EXIT.FAILED);
}
