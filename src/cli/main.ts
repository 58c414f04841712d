#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { serve } from '../main.js';

const program = new Command()
  .name('auditstream')
  .description('gRPC-first real-time audit event service')
  .exitOverride();

program
  .command('serve')
  .description('run the service (embedded defaults when no config file is given)')
  .option('-c, --config <file>', 'YAML configuration file')
  .action(async (opts: { config?: string }) => serve(opts.config));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
}
