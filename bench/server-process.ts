import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  stop(): Promise<void>;
}

/** Runs `auditstream serve` as its own process (as in production) with a config in YAML text. */
export async function startServerProcess(configYaml: string): Promise<ServerProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-bench-'));
  const configFile = path.join(dir, 'config.yaml');
  writeFileSync(configFile, `server:\n  host: 127.0.0.1\n  grpc_port: 0\n  http_port: 0\n${configYaml}`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const grpcPort = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before serving`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = (JSON.parse(line) as { grpcPort?: number }).grpcPort;
      if (port) resolve(port);
    });
  });
  return {
    child, grpcPort,
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
