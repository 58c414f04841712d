import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { startServer } from '../support/server.js';

/** Runs the real CLI as a process: stdout, stderr and the exit code. */
function cli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

test('publish from stdin, then tail --from prints exactly those events; stats and verify work', async () => {
  const server = await startServer();
  try {
    const lines = [
      { type: 'LOGIN_FAILED', user_id: 'alice', entity_type: 'session', entity_id: 's1', action: 'login', result: 'FAILURE' },
      { type: 'EVENT_TYPE_BID_ACCEPTED', severity: 'high', user_id: 'bob', entity_type: 'bid', entity_id: 'b1', action: 'accept', metadata: { amount: 12.5 } },
      { type: 'NOT_A_TYPE', action: 'x' },
      { type: 'CALL_CREATED', action: '' },
    ].map((l) => JSON.stringify(l)).join('\n');
    const published = await cli(['publish', '--server', server.address], `${lines}\nnot json\n`);
    assert.equal(published.code, 1, 'some lines were rejected');
    assert.match(published.stderr, /line 3: unknown type "NOT_A_TYPE"/);
    assert.match(published.stderr, /line 4: action: is required/);
    assert.match(published.stderr, /line 5: not valid JSON/);
    assert.match(published.stderr, /published 2, duplicates 0, rejected 3/);
    assert.equal(published.stdout.trim().split('\n').length, 2);

    const tail = await cli(['tail', '--server', server.address, '--from', '1h', '--to', new Date().toISOString(), '--json']);
    assert.equal(tail.code, 0, tail.stderr);
    const events = tail.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.sequence, e.type, e.userId]), [[1, 'EVENT_TYPE_LOGIN_FAILED', 'alice'], [2, 'EVENT_TYPE_BID_ACCEPTED', 'bob']]);
    assert.equal(events[1].severity, 'SEVERITY_HIGH');

    const filtered = await cli(['tail', '--server', server.address, '--from', '1h', '--to', new Date().toISOString(), '--json', '--type', 'BID_ACCEPTED']);
    assert.deepEqual(filtered.stdout.trim().split('\n').map((l) => JSON.parse(l).userId), ['bob']);

    const stats = await cli(['stats', '--server', server.address, '--json']);
    assert.equal(stats.code, 0);
    assert.equal(JSON.parse(stats.stdout).eventsPublished, 2);
    const verify = await cli(['verify', '--server', server.address]);
    assert.deepEqual([verify.code, verify.stdout.trim()], [0, 'chain intact: 2 events verified (1..2)']);

    const one = await cli(['publish', '--server', server.address, '--type', 'CONFIG_CHANGED', '--action', 'update', '--metadata', '{"key":"x"}']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^3\t[0-9a-f-]{36}\n$/);
  } finally {
    await server.close();
  }
});

test('bad flags exit 2 with a usage message', async () => {
  const unknown = await cli(['tail', '--no-such-flag']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option '--no-such-flag'[\s\S]*Usage: auditstream tail/);
  const badTime = await cli(['tail', '--from', 'yesterday-ish']);
  assert.equal(badTime.code, 2);
  assert.match(badTime.stderr, /--from: expected a duration ago/);
  const badCommand = await cli(['frobnicate']);
  assert.equal(badCommand.code, 2);
});

test('erase by user id removes the personal values, records the erasure, and the chain still verifies', async () => {
  const server = await startServer();
  try {
    const line = JSON.stringify({ type: 'DATA_ACCESSED', user_id: 'alice', action: 'read', metadata: { email: 'alice@example.com', note: 'x' } });
    assert.equal((await cli(['publish', '--server', server.address], `${line}\n`)).code, 0);
    const usage = await cli(['erase', '--server', server.address]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /exactly one of --user or --metadata/);
    const erased = await cli(['erase', '--server', server.address, '--user', 'alice', '--reason', 'ticket 7', '--json']);
    assert.equal(erased.code, 0, erased.stderr);
    assert.deepEqual(JSON.parse(erased.stdout), { ...JSON.parse(erased.stdout), eventsChanged: 1, valuesErased: 1, recordSequence: 2 });
    const verified = await cli(['verify', '--server', server.address]);
    assert.equal(verified.code, 0);
    assert.match(verified.stdout, /chain intact: 2 events verified/);
  } finally {
    await server.close();
  }
});
