import assert from '../support/assert.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';

/** Runs `auditstream serve --config <yaml>` as a process: stdout, stderr and the exit code. */
function serve(yaml: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const config = path.join(mkdtempSync(path.join(tmpdir(), 'cfg-errors-')), 'auditstream.yaml');
  writeFileSync(config, yaml);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port some other process holds. */
async function busyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

test('a port in use is one line naming the key and the port, exit 1', async () => {
  const busy = await busyPort();
  try {
    const [grpc, http] = await Promise.all([
      serve(`server:\n  grpc_port: ${busy.port}\n  http_port: 0\nstorage:\n  type: memory\n`),
      serve(`server:\n  grpc_port: 0\n  http_port: ${busy.port}\nstorage:\n  type: memory\n`),
    ]);
    assert.deepEqual([grpc.code, grpc.stderr], [1, `auditstream: server.grpc_port ${busy.port} is in use\n`], grpc.stdout);
    assert.deepEqual([http.code, http.stderr], [1, `auditstream: server.http_port ${busy.port} is in use\n`], http.stdout);
  } finally {
    busy.server.close();
  }
});

test('a bad config file exits 2 naming every bad key, with a hint', async () => {
  const bad = await serve('server:\n  grcp_port: 1\n  shutdown_timeout: 10 seconds\naudit:\n  publisher:\n    worker_count: 4\n');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^invalid configuration:\n/);
  assert.match(bad.stderr, /\n {2}audit\.publisher\.worker_count: not needed .*single-threaded/);
  assert.match(bad.stderr, /\n {2}server\.shutdown_timeout: "10 seconds" is not a duration: use a number of milliseconds or 250ms, 10s, 5m, 1h\n/);
  assert.match(bad.stderr, /\n {2}server\.grcp_port: unknown key; did you mean grpc_port\?\n/);
});
