/**
 * The CLI against a secured server, as a process: bearer tokens (--token, AUDITSTREAM_TOKEN), TLS
 * (--tls --cacert) and mutual TLS (--cert --key).
 */
import assert from '../support/assert.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { certificates, SECRET, token } from '../support/security.js';
import { startServer, type TestServer } from '../support/server.js';
import { cli } from '../support/cli.js';



const SECURE = { enabled: true, jwt: { secret: SECRET } };

describe('a server with security on (JWT)', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startServer({ storage: { type: 'memory' }, security: SECURE });
    admin = await token('root', ['admin']);
  });
  afterAll(() => server.close());

  test('--token is sent on every call: publish, query, tail, stats, verify, subscriptions', async () => {
    const at = ['--server', server.address, '--token', admin];
    const published = await cli(['publish', ...at], { stdin: `${JSON.stringify({ type: 'CALL_CREATED', entity_id: 'c1', action: 'create' })}\n` });
    assert.equal(published.code, 0, published.stderr);
    const one = await cli(['publish', ...at, '--type', 'LOGIN_FAILED', '--action', 'login', '--json']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).sequence, 2);
    const query = await cli(['query', ...at, '--json', '--order', 'asc']);
    assert.deepEqual(query.stdout.trim().split('\n').map((l) => JSON.parse(l).sequence), [1, 2]);
    const tail = await cli(['tail', ...at, '--after', '0', '--to', new Date(Date.now() + 500).toISOString(), '--json']);
    assert.equal(tail.code, 0, tail.stderr);
    assert.equal(tail.stdout.trim().split('\n').length, 2);
    for (const command of [['stats'], ['verify'], ['subscriptions']]) {
      const r = await cli([...command, ...at]);
      assert.equal(r.code, 0, `${command[0]}: ${r.stderr}`);
    }
  });

  test('AUDITSTREAM_TOKEN works like --token; "Bearer " in front is accepted', async () => {
    const stats = await cli(['stats', '--server', server.address, '--json'], { env: { AUDITSTREAM_TOKEN: `Bearer ${admin}` } });
    assert.equal(stats.code, 0, stats.stderr);
    assert.ok(JSON.parse(stats.stdout).lastSequence >= 0);
  });

  test('no token: a clear UNAUTHENTICATED message and exit 1, for unary calls and for tail', async () => {
    for (const args of [['stats'], ['query'], ['tail', '--retries', '0'], ['subscriptions', 'list']]) {
      const r = await cli([...args, '--server', server.address]);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /UNAUTHENTICATED: .*\(no token given: pass --token or set AUDITSTREAM_TOKEN\)/, args[0]);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const published = await cli(['publish', '--server', server.address, '--type', 'CALL_CREATED', '--action', 'x']);
    assert.equal(published.code, 1);
    assert.match(published.stderr, /^auditstream: UNAUTHENTICATED: /);
  });

  test('a bad token is UNAUTHENTICATED, a role without the right PERMISSION_DENIED (exit 1 both)', async () => {
    const expired = await cli(['stats', '--server', server.address, '--token', await token('root', ['admin'], { expiresInSeconds: -120 })]);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /^auditstream: UNAUTHENTICATED: the token has expired\n$/);
    const publisher = await cli(['stats', '--server', server.address, '--token', await token('svc', ['publisher'])]);
    assert.equal(publisher.code, 1);
    assert.match(publisher.stderr, /^auditstream: PERMISSION_DENIED: /);
  });

  test('health needs no token', async () => {
    const r = await cli(['health', '--server', server.address]);
    assert.deepEqual([r.code, r.stdout], [0, 'SERVING\n']);
  });
});

test('TLS: --cacert (and --cert/--key for mutual TLS) with a token; plaintext to a TLS server says to use TLS', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-cli-tls-'));
  const certs = await certificates('billing-service');
  const file = (name: string, text: string): string => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const ca = file('ca.pem', certs.cert);
  const tls = { cert_file: file('server.pem', certs.cert), key_file: file('server.key', certs.key) };
  const server = await startServer({ storage: { type: 'memory' }, security: { ...SECURE, tls } });
  try {
    const at = ['--server', server.address, '--token', await token('root', ['admin'])];
    const stats = await cli(['stats', ...at, '--tls', '--cacert', ca, '--json']);
    assert.equal(stats.code, 0, stats.stderr);
    const published = await cli(['publish', ...at, '--cacert', ca, '--type', 'CALL_CREATED', '--action', 'create']);
    assert.equal(published.code, 0, published.stderr);
    const health = await cli(['health', '--server', server.address, '--cacert', ca]);
    assert.deepEqual([health.code, health.stdout], [0, 'SERVING\n']);

    const plaintext = await cli(['stats', ...at]);
    assert.equal(plaintext.code, 1);
    assert.match(plaintext.stderr, /UNAVAILABLE: cannot reach 127\.0\.0\.1:\d+: .*\(a TLS server needs --tls or --cacert\)/);
    const untrusted = await cli(['stats', ...at, '--tls']);
    assert.equal(untrusted.code, 1, 'the system roots do not trust a self-signed certificate');
    assert.match(untrusted.stderr, /UNAVAILABLE/);
    const noFile = await cli(['stats', ...at, '--cacert', path.join(dir, 'missing.pem')]);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /--cacert .*missing\.pem: no such file/);
    const halfPair = await cli(['stats', ...at, '--cert', tls.cert_file]);
    assert.equal(halfPair.code, 2);
    assert.match(halfPair.stderr, /--cert and --key go together/);
  } finally {
    await server.close();
  }

  const mtls = await startServer({
    storage: { type: 'memory' },
    security: { enabled: true, tls: { ...tls, client_ca_file: ca }, certificate_roles: { 'billing-service': ['publisher'] } },
  });
  try {
    const client = ['--server', mtls.address, '--cacert', ca, '--cert', file('client.pem', certs.clientCert), '--key', file('client.key', certs.clientKey)];
    const published = await cli(['publish', ...client, '--type', 'CALL_CREATED', '--action', 'create', '--json']);
    assert.equal(published.code, 0, published.stderr);
    assert.equal(JSON.parse(published.stdout).sequence, 1);
    const denied = await cli(['stats', ...client]);
    assert.equal(denied.code, 1, 'the certificate\'s subject is a publisher');
    assert.match(denied.stderr, /PERMISSION_DENIED/);
    const noCert = await cli(['publish', '--server', mtls.address, '--cacert', ca, '--type', 'CALL_CREATED', '--action', 'create']);
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /UNAVAILABLE/);
  } finally {
    await mtls.close();
  }
});
