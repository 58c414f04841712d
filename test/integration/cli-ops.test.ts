/**
 * The ops commands of the CLI, each run as a process: query, tail --after-cursor, subscriptions,
 * health, config check/print.
 */
import assert from '../support/assert.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { EventType } from '../../generated/audit/v1/event.js';
import { filterOf, makeEvent, startServer, StreamReader } from '../support/server.js';
import { cli, type CliRun } from '../support/cli.js';

type Run = CliRun;


const jsonLines = (r: Run): Array<Record<string, any>> => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('query: filters, order, one page with the next token on stderr, --all follows the pages', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  try {
    const users = ['alice', 'bob', 'alice', 'carol', 'alice'];
    await server.api.publishBatch({ events: users.map((userId, i) => makeEvent({ userId, type: i === 1 ? EventType.EVENT_TYPE_LOGIN_FAILED : EventType.EVENT_TYPE_CALL_CREATED })) });
    const at = ['--server', server.address];

    const newest = await cli(['query', ...at, '--json', '--limit', '2']);
    assert.equal(newest.code, 0, newest.stderr);
    assert.deepEqual(jsonLines(newest).map((e) => e.sequence), [5, 4], 'newest first by default');
    const token = /continue with --page-token (\d+)/.exec(newest.stderr)?.[1];
    assert.ok(token, newest.stderr);
    const next = await cli(['query', ...at, '--json', '--limit', '2', '--page-token', token]);
    assert.deepEqual(jsonLines(next).map((e) => e.sequence), [3, 2]);

    const all = await cli(['query', ...at, '--json', '--limit', '2', '--all', '--order', 'asc']);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(jsonLines(all).map((e) => e.sequence), [1, 2, 3, 4, 5]);
    assert.equal(all.stderr, '', 'no progress when stderr is not a terminal, and no next token');

    const alice = await cli(['query', ...at, '--json', '--user', 'alice', '--order', 'asc']);
    assert.deepEqual(jsonLines(alice).map((e) => e.sequence), [1, 3, 5]);
    const security = await cli(['query', ...at, '--json', '--category', 'security']);
    assert.deepEqual(jsonLines(security).map((e) => [e.sequence, e.type]), [[2, 'EVENT_TYPE_LOGIN_FAILED']]);
    const expression = await cli(['query', ...at, '--json', '--expression', 'event.user_id == "carol"', '--from', '1h', '--to', new Date(Date.now() + 60_000).toISOString()]);
    assert.deepEqual(jsonLines(expression).map((e) => e.userId), ['carol']);

    const text = await cli(['query', ...at, '--type', 'LOGIN_FAILED']);
    assert.match(text.stdout, /^#2 {2}\S+ {2}INFO {6}LOGIN_FAILED {2}user=bob {2}call\/call-\d+ {2}create\n$/);

    const verified = await cli(['verify', ...at, '--json']);
    assert.deepEqual([verified.code, JSON.parse(verified.stdout)], [0, { ok: true, checked: 5, firstSequence: 1, lastSequence: 5 }]);
    const stats = await cli(['stats', ...at, '--json']);
    assert.equal(JSON.parse(stats.stdout).lastSequence, 5);

    const badOrder = await cli(['query', ...at, '--order', 'sideways']);
    assert.equal(badOrder.code, 2);
    assert.match(badOrder.stderr, /--order.*sideways/);
    const badCategory = await cli(['query', ...at, '--category', 'nonsense']);
    assert.equal(badCategory.code, 2, 'INVALID_ARGUMENT is a usage error');
    assert.match(badCategory.stderr, /INVALID_ARGUMENT: .*categories/);
  } finally {
    await server.close();
  }
});

test('tail --after-cursor resumes after a cursor; --after and --after-cursor together are refused', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  try {
    const acks = [];
    for (let i = 0; i < 3; i++) acks.push(await server.api.publish({ event: makeEvent({ entityId: `e${i}` }) }));
    const to = new Date(Date.now() + 1_000).toISOString();
    const tail = await cli(['tail', '--server', server.address, '--after-cursor', acks[0].cursor, '--to', to, '--json']);
    assert.equal(tail.code, 0, tail.stderr);
    assert.deepEqual(jsonLines(tail).map((e) => e.entityId), ['e1', 'e2']);
    const both = await cli(['tail', '--server', server.address, '--after', '1', '--after-cursor', acks[0].cursor]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--after or --after-cursor, not both/);
  } finally {
    await server.close();
  }
});

test('subscriptions: list, show and end (Unsubscribe ends the stream with OK)', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  try {
    const reader = new StreamReader(server.client.subscribe({ filter: filterOf({ userIds: ['alice'] }), clientName: 'billing-watch', afterCursor: '' }));
    const id = (await reader.started()).subscriptionId;
    const at = ['--server', server.address];

    const listed = await cli(['subscriptions', ...at, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(jsonLines(listed).map((s) => [s.subscriptionId, s.clientName, s.filter.userIds]), [[id, 'billing-watch', ['alice']]]);
    const table = await cli(['subscriptions', 'list', ...at]);
    assert.match(table.stdout, /^ID +TRANSPORT +CLIENT/);
    assert.match(table.stdout, new RegExp(`${id} +grpc +billing-watch`));

    const shown = await cli(['subscriptions', 'show', id, ...at, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).clientName, 'billing-watch');

    const ended = await cli(['subscriptions', 'end', id, ...at]);
    assert.deepEqual([ended.code, ended.stdout], [0, `ended subscription ${id}\n`]);
    assert.equal(await reader.ended(), 'OK');
    const none = await cli(['subscriptions', ...at]);
    assert.equal(none.stdout, 'no active subscriptions\n');

    const unknown = await cli(['subscriptions', 'end', id, ...at]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^auditstream: NOT_FOUND: /);
  } finally {
    await server.close();
  }
});

test('health: SERVING exits 0, NOT_SERVING exits 1, an unreachable server exits 1', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  try {
    const ok = await cli(['health', '--server', server.address]);
    assert.deepEqual([ok.code, ok.stdout], [0, 'SERVING\n']);
    server.app.grpc.setServing(false);
    const down = await cli(['health', '--server', server.address, '--service', 'audit.v1.AuditService', '--json']);
    assert.equal(down.code, 1);
    assert.deepEqual(JSON.parse(down.stdout), { server: server.address, service: 'audit.v1.AuditService', status: 'NOT_SERVING' });
  } finally {
    await server.close();
  }
  const gone = await cli(['health', '--server', server.address]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /UNAVAILABLE: cannot reach 127\.0\.0\.1:\d+/);
});

test('config check validates without starting; config print shows the effective config with credentials masked', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-cli-config-'));
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, [
    'server:', '  grpc_port: 6000', 'storage:', '  path: ./audit.db',
    'security:', '  enabled: true', '  jwt:', '    secret: ${JWT_SECRET}',
    'kafka:', '  sasl:', '    mechanism: plain', '    username: svc', '    password: hunter2-hunter2',
  ].join('\n'));
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'server:\n  grcp_port: 6000\nstorage:\n  type: sqllite\n');

  const checked = await cli(['config', 'check', good], { env: { JWT_SECRET: 'a-very-secret-value-of-32-bytes-or-more' } });
  assert.deepEqual([checked.code, checked.stdout], [0, `${good}: valid\n`]);
  const invalid = await cli(['config', 'check', bad]);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /server\.grcp_port: unknown key; did you mean grpc_port\?/);
  assert.match(invalid.stderr, /storage\.type: "sqllite" is not one of/);
  const invalidJson = await cli(['config', 'check', bad, '--json']);
  assert.equal(JSON.parse(invalidJson.stdout).valid, false);
  assert.equal(JSON.parse(invalidJson.stdout).problems.length, 2);
  const unset = await cli(['config', 'check', good]);
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /JWT_SECRET is not set/);

  const printed = await cli(['config', 'print', good], { env: { JWT_SECRET: 'a-very-secret-value-of-32-bytes-or-more' } });
  assert.equal(printed.code, 0, printed.stderr);
  assert.doesNotMatch(printed.stdout, /a-very-secret|hunter2/);
  const config = parseYaml(printed.stdout);
  assert.equal(config.server.grpc_port, 6000);
  assert.equal(config.storage.path, path.join(dir, 'audit.db'), 'paths resolved against the file\'s folder');
  assert.equal(config.security.jwt.secret, '****');
  assert.equal(config.kafka.sasl.password, '****');
  assert.equal(config.kafka.sasl.username, 'svc');
  const defaults = await cli(['config', 'print', '--json']);
  assert.equal(JSON.parse(defaults.stdout).server.grpc_port, 50051);
});
