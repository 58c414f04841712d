import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM (graceful), resolving with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs `auditstream serve` as its own process (as in production) with a config in YAML text; the
 * config must log at info or lower, since the port is read from the "serving" log line. The SQLite
 * log lives in `databaseFile`, or in a fresh folder, unless the config has a storage section.
 * `serverYaml`: more `server:` keys, indented. `nodeFlags`: for node itself (the bench's --cpu-prof,
 * which NODE_OPTIONS does not take).
 */
export async function startServerProcess(configYaml: string, databaseFile?: string, serverYaml = '', nodeFlags: readonly string[] = []): Promise<ServerProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-process-'));
  const configFile = path.join(dir, 'config.yaml');
  // A config with its own storage section (cluster nodes) keeps it; else the SQLite log goes to the folder.
  const storage = /^storage:/m.test(configYaml) ? '' : `storage:\n  path: ${databaseFile ?? path.join(dir, 'audit.db')}\n`;
  writeFileSync(configFile, `server:\n  host: 127.0.0.1\n  grpc_port: 0\n  http_port: 0\n${serverYaml}${storage}${configYaml}`);
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const { grpcPort, httpPort } = await new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before serving: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const ports = JSON.parse(line) as { grpcPort?: number; httpPort?: number };
      if (ports.grpcPort) resolve({ grpcPort: ports.grpcPort, httpPort: ports.httpPort ?? 0 });
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child, grpcPort, httpPort, exited,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
