import { type Command, Option } from 'commander';
import { integer, runs, withConnection, withFilter } from './options.js';
import type { PublishFlags } from './publish.js';
import type { QueryFlags } from './query.js';
import type { TailFlags } from './tail.js';

// Types only from the command modules: they load grpc-js, which must wait until a command runs.

/** publish, tail and query: events in and out. */
export function addEventCommands(program: Command): void {
  withConnection(program.command('publish'))
    .description('publish one event from flags (--type ...), or JSON lines from stdin (proto JSON; short enum names accepted)')
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
    .addHelpText('after', '\nExit 1 when any line was refused (nothing of it is stored), 2 when there was nothing to publish.')
    .action(runs(async (flags: PublishFlags) => (await import('./publish.js')).publishCommand(flags)));

  withFilter(withConnection(program.command('tail')))
    .description('subscribe and print matching events; reconnects and resumes if the server goes away')
    .option('--after <sequence>', 'resume after this sequence')
    .option('--after-cursor <token>', 'resume after this cursor (an event\'s cursor, or the one a stopped tail printed)')
    .addOption(new Option('--retries <n>', 'reconnect attempts').default(10).argParser(integer))
    .action(runs(async (flags: TailFlags) => (await import('./tail.js')).tailCommand(flags)));

  withFilter(withConnection(program.command('query')))
    .description('search stored history, newest first; one page (--limit, --page-token) or every page (--all)')
    .addOption(new Option('--order <order>', 'newest (desc) or oldest (asc) first').choices(['asc', 'desc']).default('desc'))
    .addOption(new Option('--limit <n>', 'events per page (server default 100, at most 10000)').argParser(integer))
    .option('--page-token <token>', 'continue where a previous page ended')
    .option('--all', 'follow the pages until no more events match', false)
    .action(runs(async (flags: QueryFlags) => (await import('./query.js')).queryCommand(flags)));
}
