#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { addLogCommands, addOpsCommands } from './commands-admin.js';
import { addEventCommands } from './commands-events.js';
import { failure } from './errors.js';
import { outcome, TOKEN_ENV } from './options.js';
import { quietOnClosedPipes } from './output.js';

// Command modules are imported when their command runs: `serve` must start telemetry before grpc-js
// is first loaded, and a command should not pay for the others.

/** package.json's version: two folders up from src/cli, three from the build's dist/src/cli. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string | undefined; version?: string | undefined };
      if (pkg.name === 'auditstream' && pkg.version) return pkg.version;
    } catch {
      // not here: the next folder up
    }
  }
  return 'unknown';
}


const program = new Command()
  .name('auditstream')
  .description('gRPC-first real-time audit event service')
  .version(packageVersion(), '-V, --version', 'print the version')
  .exitOverride()
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false })
  .addHelpText('after', `
Every command that talks to a server takes --server host:port (default 127.0.0.1:50051), --token JWT
(or ${TOKEN_ENV}), --tls, --cacert FILE, --cert FILE --key FILE, and --json.
Exit codes: 0 success; 1 the server refused or failed, a check failed, or input lines were refused;
2 bad usage (flags, input, configuration), or nothing to do.`);

program.command('serve')
  .description('run the service (embedded defaults when no config file is given)')
  .option('-c, --config <file>', 'YAML configuration file')
  .action(async (opts: { config?: string | undefined }) => {
    const { serve } = await import('../main.js');
    await serve(opts.config);
    outcome.exitCode = -1; // keep running until a signal
  });

addEventCommands(program);
addLogCommands(program);
addOpsCommands(program);
quietOnClosedPipes();

try {
  await program.parseAsync(process.argv);
  if (outcome.exitCode >= 0) process.exit(outcome.exitCode);
} catch (err) {
  const { code, message } = failure(err, outcome.flags);
  if (message !== undefined) process.stderr.write(`${message}\n`);
  process.exit(code);
}
