import { type Command, Option } from 'commander';
import type { RestoreFlags } from './backup.js';
import type { ListFlags, RedriveFlags } from './dead-letters.js';
import type { EraseFlags } from './erase.js';
import { type ConnectionFlags, integer, runs, withConnection, withFilter, withJson } from './options.js';
import type { VerifyFlags } from './stats.js';
import type { CreateFlags } from './webhooks.js';

// Types only from the command modules: they load grpc-js, which must wait until a command runs.

/** stats, verify, erase, backup and restore: the log and its figures. */
export function addLogCommands(program: Command): void {
  withConnection(program.command('stats'))
    .description('service-wide counters and queue sizes')
    .action(runs(async (flags: ConnectionFlags) => (await import('./stats.js')).statsCommand(flags)));

  withConnection(program.command('verify'))
    .description('verify the hash chain; exit 1 when broken')
    .option('--from <sequence>', 'first sequence (default: oldest kept)')
    .option('--to <sequence>', 'last sequence (default: newest)')
    .option('--offline <path>', 'check a database file directly, with no server running (integrity, then the chain)')
    .option('--checkpoint <file>', 'check a signed checkpoint (JSON) and hold the log to it: cut or rewritten?')
    .option('--public-key <pem>', 'the server\'s checkpoint public key, for --checkpoint')
    .action(runs(async (flags: VerifyFlags & { checkpoint?: string | undefined; publicKey?: string | undefined }) =>
      (flags.checkpoint !== undefined
        ? (await import('./verify-checkpoint.js')).verifyCheckpointCommand({ ...flags, checkpoint: flags.checkpoint })
        : (await import('./stats.js')).verifyCommand(flags))));

  withConnection(program.command('erase'))
    .description('erase a data subject\'s personal data (admin, compliance); the chain still verifies')
    .option('--user <id>', 'every event of this user id')
    .option('--metadata <key=value>', 'every event whose metadata key holds this value')
    .option('--reason <text>', 'why (a ticket or request reference), kept in the erasure\'s audit event', '')
    .action(runs(async (flags: EraseFlags) => (await import('./erase.js')).eraseCommand(flags)));

  withConnection(program.command('backup'))
    .description('copy the log of the running server (admin; storage.type sqlite) to DEST, its head to DEST.head.json')
    .argument('<dest>', 'the file to write (replaced only once the copy is complete)')
    .action(runs(async (dest: string, flags: ConnectionFlags) => (await import('./backup.js')).backupCommand(dest, flags)));

  withJson(program.command('restore'))
    .description('with the server stopped: verify a backup (integrity, hash chain, SRC.head.json) and replace the log with it')
    .argument('<src>', 'the backup file')
    .option('--db <path>', 'the log to replace (default: storage.path of --config, else ./data/auditstream.db)')
    .option('-c, --config <file>', 'YAML configuration file naming the log (storage.path)')
    .action(runs(async (src: string, flags: RestoreFlags) => (await import('./backup.js')).restoreCommand(src, flags)));
}

/** subscriptions, dead-letters, health and config: operating the service. */
export function addOpsCommands(program: Command): void {
  const subscriptions = program.command('subscriptions').description('active subscriptions: list (default), show ID, end ID');
  withConnection(subscriptions.command('list', { isDefault: true }))
    .description('every active subscription with its counters')
    .action(runs(async (flags: ConnectionFlags) => (await import('./subscriptions.js')).listSubscriptions(flags)));
  withConnection(subscriptions.command('show'))
    .description('one subscription\'s filter and counters')
    .argument('<id>', 'the subscription id')
    .action(runs(async (id: string, flags: ConnectionFlags) => (await import('./subscriptions.js')).showSubscription(id, flags)));
  withConnection(subscriptions.command('end'))
    .description('end a subscription (Unsubscribe): its stream ends with OK')
    .argument('<id>', 'the subscription id')
    .action(runs(async (id: string, flags: ConnectionFlags) => (await import('./subscriptions.js')).endSubscription(id, flags)));

  const deadLetters = program.command('dead-letters').description('events Kafka refused for good: list (default), redrive');
  withConnection(deadLetters.command('list', { isDefault: true }))
    .description('the dead letters, oldest first, a page at a time')
    .addOption(new Option('--limit <n>', 'letters per page (server default 100, at most 1000)').argParser(integer))
    .option('--page-token <token>', 'continue where a previous page ended')
    .option('--all', 'follow the pages to the end', false)
    .action(runs(async (flags: ListFlags) => (await import('./dead-letters.js')).listDeadLetters(flags)));
  withConnection(deadLetters.command('redrive'))
    .description('send dead letters to Kafka again; exit 1 when any was not delivered')
    .argument('[sequences...]', 'the sequences to redrive')
    .option('--all', 'every dead letter, oldest first (up to --limit)', false)
    .addOption(new Option('--limit <n>', 'with --all: most letters (server default 100, at most 1000)').argParser(integer))
    .action(runs(async (sequences: string[], flags: RedriveFlags) => (await import('./dead-letters.js')).redriveDeadLetters(sequences, flags)));

  addWebhookCommands(program);

  withConnection(program.command('health'))
    .description('grpc.health.v1 Check; exit 1 unless SERVING')
    .option('--service <name>', 'the service to check ("" is the whole server, or audit.v1.AuditService)', '')
    .action(runs(async (flags: ConnectionFlags & { service: string }) => (await import('./health.js')).healthCommand(flags)));

  const config = program.command('config').description('configuration files: check FILE, print [FILE]');
  withJson(config.command('check'))
    .description('validate a configuration file without starting anything; exit 2 with the problems')
    .argument('<file>', 'YAML configuration file')
    .action(runs(async (file: string, flags: { json: boolean }) => (await import('./config.js')).configCheck(file, flags)));
  withJson(config.command('print'))
    .description('the effective configuration (defaults included) as YAML, credentials masked')
    .argument('[file]', 'YAML configuration file (none: the defaults)')
    .action(runs(async (file: string | undefined, flags: { json: boolean }) => (await import('./config.js')).configPrint(file, flags)));
}

/** webhooks: durable HTTP push subscriptions (admin). */
function addWebhookCommands(program: Command): void {
  const webhooks = program.command('webhooks').description('HTTP push subscriptions: list (default), create, pause, resume, delete, dead-letters, redrive');
  const run = async () => import('./webhooks.js');
  withConnection(webhooks.command('list', { isDefault: true }))
    .description('every webhook with its delivery status')
    .action(runs(async (flags: ConnectionFlags) => (await run()).listWebhooks(flags)));
  withFilter(withConnection(webhooks.command('create')))
    .description('create a webhook: the server POSTs the matching events to URL, signed (no secret given: one is drawn and printed once)')
    .argument('<name>', 'unique name: letters, digits, ".", "_", "-"')
    .argument('<url>', 'http or https URL to POST to')
    .option('--secret <secret>', 'signing secret, 16 to 512 characters (visible to other local users: prefer --secret-file)')
    .option('--secret-file <file>', 'read the signing secret from this file')
    .addOption(new Option('--batch-size <n>', 'most events per request (server default webhooks.defaults.batch_size)').argParser(integer))
    .option('--role <role>', 'deliver what this role sees (repeatable; default: your own roles)', (v: string, p: string[]) => [...p, v], [])
    .option('--replay-history', 'first deliver every event the log still holds', false)
    .action(runs(async (name: string, url: string, flags: CreateFlags) => (await run()).createWebhook(name, url, flags)));
  for (const action of ['pause', 'resume', 'delete'] as const) {
    withConnection(webhooks.command(action))
      .description(`${action} a webhook${action === 'delete' ? ' with its cursor and dead letters' : ''}`)
      .argument('<webhook>', 'its name or id')
      .action(runs(async (ref: string, flags: ConnectionFlags) => (await run()).changeWebhook(action, ref, flags)));
  }
  withConnection(webhooks.command('dead-letters'))
    .description('events the webhook\'s endpoint did not accept before its retries ran out, oldest first')
    .argument('<webhook>', 'its name or id')
    .addOption(new Option('--limit <n>', 'letters per page (server default 100, at most 1000)').argParser(integer))
    .option('--page-token <token>', 'continue where a previous page ended')
    .option('--all', 'follow the pages to the end', false)
    .action(runs(async (ref: string, flags: ListFlags) => (await run()).listWebhookDeadLetters(ref, flags)));
  withConnection(webhooks.command('redrive'))
    .description('send a webhook\'s dead letters again; exit 1 when any was not delivered')
    .argument('<webhook>', 'its name or id')
    .argument('[sequences...]', 'the sequences to redrive')
    .option('--all', 'every dead letter, oldest first (up to --limit)', false)
    .addOption(new Option('--limit <n>', 'with --all: most letters (server default 100, at most 1000)').argParser(integer))
    .action(runs(async (ref: string, sequences: string[], flags: RedriveFlags) => (await run()).redriveWebhook(ref, sequences, flags)));
}
