import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

function file(text: string): string {
  const p = path.join(mkdtempSync(path.join(tmpdir(), 'cfg-')), 'c.yaml');
  writeFileSync(p, text);
  return p;
}

test('the example config is valid and equals the defaults', () => {
  assert.deepEqual(loadConfig('config/auditstream.example.yaml'), parseConfig({}));
});

test('defaults: loopback gRPC on 50051 with the memory log', () => {
  const c = parseConfig({});
  assert.equal(c.server.host, '127.0.0.1');
  assert.equal(c.server.grpc_port, 50051);
  assert.equal(c.audit.publisher.backpressure_delay, 100);
});

test('${VAR} and ${VAR:-default} expand from the environment; durations parse', () => {
  const c = loadConfig(file('server:\n  grpc_port: ${PORT}\n  host: "${HOST:-0.0.0.0}"\n  shutdown_timeout: 2s\n'), { PORT: '7000' });
  assert.equal(c.server.grpc_port, 7000);
  assert.equal(c.server.host, '0.0.0.0');
  assert.equal(c.server.shutdown_timeout, 2000);
});

test('errors name the bad key', () => {
  assert.throws(() => parseConfig({ audit: { publisher: { max_queue_depth: -1 } } }), (err: Error) =>
    err instanceof ConfigError && err.message.includes('audit.publisher.max_queue_depth'));
  assert.throws(() => parseConfig({ server: { grpc_prot: 1 } }), /server\.grpc_prot: unknown key/);
  assert.throws(() => loadConfig(file('server:\n  host: ${NOPE_NOT_SET}\n'), {}), /server\.host: environment variable NOPE_NOT_SET is not set/);
  assert.throws(() => parseConfig({ server: { shutdown_timeout: 'soon' } }), /server\.shutdown_timeout/);
});
