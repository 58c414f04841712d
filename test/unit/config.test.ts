import assert from '../support/assert.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { closest, editDistance, keyPaths } from '../../src/config/keys.js';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { PATH_KEYS } from '../../src/config/schema.js';

const EXAMPLE = 'config/auditstream.example.yaml';

function file(text: string): string {
  const p = path.join(mkdtempSync(path.join(tmpdir(), 'cfg-')), 'c.yaml');
  writeFileSync(p, text);
  return p;
}

/** The problems of a config that must be refused, one per line. */
function problems(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n').slice(1).map((line) => line.trim());
  }
  assert.fail('the config was accepted');
}

/**
 * The dotted key paths a YAML text mentions, commented-out keys included ("  # max_age: 2160h" under
 * storage.retention): nesting follows the indentation, a comment's by where its key starts.
 */
function mentionedKeys(text: string): Set<string> {
  const found = new Set<string>();
  const stack: Array<{ indent: number; key: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^( *)(?:#( +))?([a-z][a-z0-9_]*):(?: |$)/.exec(line);
    if (!m) continue;
    const indent = m[1].length + (m[2] ? m[2].length - 1 : 0);
    while (stack.length > 0 && stack[stack.length - 1].indent >= indent) stack.pop();
    stack.push({ indent, key: m[3] });
    found.add(stack.map((s) => s.key).join('.'));
  }
  return found;
}

test('the example config is valid and equals the defaults', () => {
  assert.deepEqual(loadConfig(EXAMPLE), parseConfig({}));
  assert.deepEqual(parseConfig(parseYaml(readFileSync(EXAMPLE, 'utf8'))), parseConfig({}));
});

test('the example config lists every key of the schema (commented-out keys count)', () => {
  const mentioned = mentionedKeys(readFileSync(EXAMPLE, 'utf8'));
  const missing = keyPaths().filter((key) => !mentioned.has(key));
  assert.deepEqual(missing, [], `add these to ${EXAMPLE}`);
  // The walk sees sections, optional and commented keys alike.
  for (const key of ['server.grpc_port', 'storage.retention.max_age', 'security.jwt.jwks_file', 'kafka.sasl.password', 'storage.checkpoints.key_file']) {
    assert.ok(keyPaths().includes(key) && mentioned.has(key), key);
  }
});

test('defaults: loopback gRPC on 50051 with the memory log', () => {
  const c = parseConfig({});
  assert.equal(c.server.host, '127.0.0.1');
  assert.equal(c.server.grpc_port, 50051);
  assert.equal(c.audit.publisher.backpressure_delay, 100);
});

test('${VAR} and ${VAR:-default} expand from the environment; durations parse', () => {
  const c = loadConfig(file('server:\n  grpc_port: ${PORT}\n  host: "${HOST:-0.0.0.0}"\n  shutdown_timeout: 2s\n  health_check_interval: ${EVERY}\nsecurity:\n  allow_insecure: ${INSECURE}\n'), { PORT: '7000', EVERY: '2500', INSECURE: 'true' });
  assert.equal(c.server.grpc_port, 7000);
  assert.equal(c.server.host, '0.0.0.0');
  assert.equal(c.server.shutdown_timeout, 2000);
  assert.equal(c.server.health_check_interval, 2500, 'a number of milliseconds from ${VAR} is a digit string');
  assert.equal(c.security.allow_insecure, true);
});

test('errors name the bad key', () => {
  assert.throws(() => parseConfig({ audit: { publisher: { max_queue_depth: -1 } } }), (err: Error) =>
    err instanceof ConfigError && err.message.includes('audit.publisher.max_queue_depth: must be more than 0, got -1'));
  assert.throws(() => parseConfig({ server: { grpc_prot: 1 } }), /server\.grpc_prot: unknown key/);
  assert.throws(() => loadConfig(file('server:\n  host: ${NOPE_NOT_SET}\n'), {}), /server\.host: environment variable NOPE_NOT_SET is not set/);
  assert.throws(() => parseConfig({ server: { shutdown_timeout: 'soon' } }), /server\.shutdown_timeout/);
});

test('errors help: the closest key, the valid values, the duration format', () => {
  assert.deepEqual(problems({ server: { grcp_port: 1 } }), ['server.grcp_port: unknown key; did you mean grpc_port?']);
  assert.deepEqual(problems({ storage: { type: 'sqllite' } }), ['storage.type: "sqllite" is not one of sqlite, memory, kafka; did you mean sqlite?']);
  assert.deepEqual(problems({ server: { shutdown_timeout: '10 seconds' } }),
    ['server.shutdown_timeout: "10 seconds" is not a duration: use a number of milliseconds or 250ms, 10s, 5m, 1h']);
  assert.deepEqual(problems({ storage: { retention: { max_age: '90d' } } }),
    ['storage.retention.max_age: "90d" is not a duration: use a number of milliseconds or 250ms, 10s, 5m, 1h']);
  // A key in the wrong section points to where it belongs; no close key: the valid ones.
  assert.deepEqual(problems({ storage: { max_age: '1h' } }), ['storage.max_age: unknown key; did you mean storage.retention.max_age?']);
  assert.deepEqual(problems({ logging: { colour: true } }), ['logging.colour: unknown key (valid here: level)']);
  assert.deepEqual(problems({ sever: {} }), ['sever: unknown key; did you mean server?']);
  // Enum values: case mistakes are suggested too; no suggestion when nothing is close.
  assert.deepEqual(problems({ security: { jwt: { algorithm: 'rs256' } } }), ['security.jwt.algorithm: "rs256" is not one of RS256, ES256; did you mean RS256?']);
  assert.deepEqual(problems({ logging: { level: 'verbose' } }), ['logging.level: "verbose" is not one of fatal, error, warn, info, debug, trace, silent']);
  assert.deepEqual(problems({ server: { grpc_port: 'abc', http_port: 70000 } }),
    ['server.grpc_port: expected a number, got "abc"', 'server.http_port: must be at most 65535, got 70000']);
  assert.deepEqual(problems({ server: { grpc_port: 8080 } }), ['server.http_port: is server.grpc_port too (8080); the two need different ports']);
  assert.deepEqual(problems({ kafka: { sasl: { mechanism: 'plain', username: 'u' } } }), ['kafka.sasl.password: is required (a string)']);
  assert.deepEqual(problems({ security: { jwt: { secret: 123456 } } }), ['security.jwt.secret: expected a string (the value is not shown)']);
  // A schema's own message stays.
  assert.match(problems({ kafka: { required_acks: 0 } })[0], /^kafka\.required_acks: expected all, -1 or 1 \(0 is refused/);
  // Every problem at once, one a line.
  assert.throws(() => loadConfig(file('server:\n  grcp_port: 1\nstorage:\n  type: sqllite\n')), (err: Error) =>
    /^invalid configuration:\n {2}server\.grcp_port: unknown key; did you mean grpc_port\?\n {2}storage\.type: .*did you mean sqlite\?$/.test(err.message));
});

test('a section left empty in YAML (all its keys commented out) takes its defaults', () => {
  const c = loadConfig(file('security:\n  jwt:\n    # secret: x\n  tls:\nkafka:\n  sasl:\n'));
  assert.equal(c.security.jwt.algorithm, 'RS256');
  assert.equal(c.security.tls.cert_file, undefined);
  assert.equal(c.kafka.sasl, undefined);
});

test('edit distance and the closest candidate', () => {
  assert.equal(editDistance('grcp_port', 'grpc_port'), 1);
  assert.equal(editDistance('sqllite', 'sqlite'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(closest('grcp_port', ['host', 'grpc_port', 'http_port']), 'grpc_port');
  assert.equal(closest('colour', ['level']), undefined);
});

test('relative paths written in a config file are relative to its folder', () => {
  const written = {
    'storage.path': 'db/log.db',
    'storage.checkpoints.key_file': './keys/cp.pem',
    'storage.checkpoints.file': '../elsewhere/cp.jsonl',
    'security.tls.cert_file': 'tls/server.pem',
    'security.tls.key_file': 'tls/server.key',
    'security.tls.client_ca_file': 'tls/ca.pem',
    'security.jwt.public_key_file': 'jwt.pem',
    'security.jwt.jwks_file': 'jwks.json',
    'kafka.tls.ca_file': 'kafka/ca.pem',
    'kafka.tls.cert_file': 'kafka/client.pem',
    'kafka.tls.key_file': 'kafka/client.key',
  };
  assert.deepEqual(Object.keys(written).sort(), [...PATH_KEYS].sort());
  const yaml = `storage:\n  path: ${written['storage.path']}\n  checkpoints:\n    key_file: ${written['storage.checkpoints.key_file']}\n    file: ${written['storage.checkpoints.file']}\n` +
    `security:\n  tls:\n    cert_file: ${written['security.tls.cert_file']}\n    key_file: ${written['security.tls.key_file']}\n    client_ca_file: ${written['security.tls.client_ca_file']}\n` +
    `  jwt:\n    public_key_file: ${written['security.jwt.public_key_file']}\n    jwks_file: ${written['security.jwt.jwks_file']}\n` +
    `kafka:\n  tls:\n    ca_file: ${written['kafka.tls.ca_file']}\n    cert_file: ${written['kafka.tls.cert_file']}\n    key_file: ${written['kafka.tls.key_file']}\n`;
  const p = file(yaml);
  const folder = path.dirname(p);
  const c = loadConfig(p) as unknown as Record<string, Record<string, Record<string, unknown>>>;
  for (const [key, value] of Object.entries(written)) {
    const keys = key.split('.');
    const got = keys.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], c);
    assert.equal(got, path.resolve(folder, value), key);
  }
  // Also through a relative config path, from another working directory's point of view.
  assert.equal(loadConfig(path.relative(process.cwd(), p)).storage.path, path.join(folder, 'db/log.db'));
});

test('absolute paths, defaults and paths without a config file are left as they are', () => {
  const c = loadConfig(file('storage:\n  checkpoints:\n    key_file: /etc/auditstream/cp.pem\nsecurity:\n  tls:\n    cert_file: ""\n'));
  assert.equal(c.storage.checkpoints.key_file, '/etc/auditstream/cp.pem');
  assert.equal(c.storage.path, './data/auditstream.db', 'a default stays relative to the working directory');
  assert.equal(c.security.tls.cert_file, '');
  assert.equal(loadConfig(file('storage:\n  path: ":memory:"\n')).storage.path, ':memory:');
  assert.equal(parseConfig({ storage: { path: 'x/y.db' } }).storage.path, 'x/y.db');
  assert.equal(loadConfig(file('storage:\n  path: ${DIR}/y.db\n'), { DIR: 'data' }).storage.path.endsWith(`${path.sep}data${path.sep}y.db`), true);
});

test('PATH_KEYS names every key of the schema that is a file', () => {
  const fileKeys = keyPaths().filter((key) => /(^|\.)(path|file|[a-z_]+_file)$/.test(key));
  assert.deepEqual(fileKeys.sort(), [...PATH_KEYS].sort());
});

test('the original specification\'s keys: accepted where they have an equivalent', () => {
  const c = parseConfig({
    audit: { publisher: { event_queue_size: 5, critical_queue_size: 7, shutdown_timeout: '5s', max_retries: 3, retry_delay: '1s', retry_backoff: '9s', send_timeout: '2s' } },
    kafka: { enable_tls: 'true', enable_sasl: true, sasl_mechanism: 'SCRAM-SHA-512', sasl_username: 'u', sasl_password: 'p' },
  });
  assert.equal(c.audit.publisher.max_queue_depth, 5);
  assert.equal(c.audit.publisher.critical_queue_depth, 7);
  assert.equal(c.server.shutdown_timeout, 5_000);
  assert.deepEqual([c.kafka.max_retries, c.kafka.retry_delay, c.kafka.retry_backoff, c.kafka.send_timeout], [3, 1_000, 9_000, 2_000]);
  assert.equal(c.kafka.tls.enabled, true);
  assert.deepEqual(c.kafka.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  const mine = { audit: { publisher: { event_queue_size: 9 } } };
  assert.equal(parseConfig(mine).audit.publisher.max_queue_depth, 9);
  assert.deepEqual(mine, { audit: { publisher: { event_queue_size: 9 } } }, 'the caller\'s object is left alone');
  // enable_sasl false: no SASL, as in the original; the same from a YAML file with ${VAR}.
  assert.equal(parseConfig({ kafka: { enable_sasl: false, sasl_username: 'u' } }).kafka.sasl, undefined);
  const fromFile = loadConfig(file('audit:\n  publisher:\n    event_queue_size: ${DEPTH}\nkafka:\n  enable_sasl: ${SASL}\n  sasl_mechanism: PLAIN\n  sasl_username: u\n  sasl_password: p\n'), { DEPTH: '42', SASL: 'true' });
  assert.equal(fromFile.audit.publisher.max_queue_depth, 42);
  assert.equal(fromFile.kafka.sasl?.mechanism, 'plain');
});

test('the original specification\'s keys: refused with what replaces them, or why they are not needed', () => {
  const refused = problems({ audit: { publisher: { worker_count: 4, critical_workers: 2, batch_size: 100, batch_timeout: '1s' } } });
  assert.equal(refused.length, 4);
  assert.match(refused[0], /^audit\.publisher\.worker_count: not needed .*single-threaded by design/);
  assert.match(refused[1], /^audit\.publisher\.critical_workers: not needed .*single-threaded by design.*critical_queue_depth/);
  assert.match(refused[2], /^audit\.publisher\.batch_size: replaced .*audit\.publisher\.append_batch_size .*kafka\.batch_size/);
  assert.match(refused[3], /^audit\.publisher\.batch_timeout: not needed .*kafka\.linger_ms/);
  // Old and new key both: refused, whatever the values.
  assert.deepEqual(problems({ audit: { publisher: { event_queue_size: 5, max_queue_depth: 5 } } }),
    ['audit.publisher.event_queue_size: the original specification\'s name of audit.publisher.max_queue_depth, which is set too; keep only audit.publisher.max_queue_depth']);
  assert.match(problems({ audit: { publisher: { max_retries: 3 } }, kafka: { retry_max: 3 } })[0],
    /^audit\.publisher\.max_retries: .*kafka\.max_retries, which is set too \(as kafka\.retry_max\)/);
  assert.match(problems({ server: { shutdown_timeout: '1s' }, audit: { publisher: { shutdown_timeout: '2s' } } })[0], /keep only server\.shutdown_timeout/);
  assert.match(problems({ kafka: { enable_tls: true, tls: { enabled: true } } })[0], /^kafka\.enable_tls: .*keep only kafka\.tls\.enabled/);
  assert.match(problems({ kafka: { enable_sasl: true, sasl_username: 'u', sasl: { mechanism: 'plain', username: 'u', password: 'p' } } })[0], /keep only kafka\.sasl$/);
  assert.deepEqual(problems({ kafka: { enable_sasl: true, sasl_username: 'u' } }),
    ['kafka.enable_sasl: true needs kafka.sasl_mechanism, kafka.sasl_password too (or write kafka.sasl: {mechanism, username, password})']);
  assert.match(problems({ kafka: { sasl_username: 'u' } })[0], /^kafka\.sasl_username: does nothing without kafka\.enable_sasl: true/);
  // A mapped value is still checked, under its new name.
  assert.deepEqual(problems({ audit: { publisher: { event_queue_size: 0 } } }), ['audit.publisher.max_queue_depth: must be more than 0, got 0']);
});
