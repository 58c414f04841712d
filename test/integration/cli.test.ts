import assert from '../support/assert.js';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from '@jest/globals';
import { makeEvent, startServer } from '../support/server.js';
import { cli } from '../support/cli.js';


test('publish from stdin, then tail --from prints exactly those events; stats and verify work', async () => {
  const server = await startServer();
  try {
    const lines = [
      { type: 'LOGIN_FAILED', user_id: 'alice', entity_type: 'session', entity_id: 's1', action: 'login', result: 'FAILURE' },
      { type: 'EVENT_TYPE_BID_ACCEPTED', severity: 'high', user_id: 'bob', entity_type: 'bid', entity_id: 'b1', action: 'accept', metadata: { amount: 12.5 } },
      { type: 'NOT_A_TYPE', action: 'x' },
      { type: 'CALL_CREATED', action: '' },
    ].map((l) => JSON.stringify(l)).join('\n');
    const published = await cli(['publish', '--server', server.address], { stdin: `${lines}\nnot json\n` });
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
    assert.equal((await cli(['publish', '--server', server.address], { stdin: `${line}\n` })).code, 0);
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

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const r = await cli(['--version']);
  assert.deepEqual([r.code, r.stdout], [0, `${version}\n`]);
});

test('publish with nothing to publish exits 2; event flags without --type are refused', async () => {
  const empty = await cli(['publish', '--server', '127.0.0.1:1'], { stdin: '' });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /nothing to publish/);
  assert.doesNotMatch(empty.stderr, /published 0/);
  const blank = await cli(['publish', '--server', '127.0.0.1:1'], { stdin: '\n  \n' });
  assert.equal(blank.code, 2);
  const stray = await cli(['publish', '--server', '127.0.0.1:1', '--user', 'alice', '--action', 'login']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /needs --type \(given: --user, --action\)/);
});

test('an unknown field in a published JSON line refuses that line, naming the field; nothing of it is stored', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  try {
    const lines = [
      { type: 'CALL_CREATED', user_id: 'alice', action: 'create' },
      { type: 'CALL_CREATED', userId: 'bob', action: 'create' },
      { type: 'CALL_CREATED', user: 'carol', action: 'create' },
      { type: 'CALL_CREATED', action: 'create', entity: 'x', metadta: {} },
    ].map((l) => JSON.stringify(l)).join('\n');
    const r = await cli(['publish', '--server', server.address, '--json'], { stdin: `${lines}\n` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^line 3: unknown field "user" \(did you mean user_id\?\)$/m);
    assert.match(r.stderr, /^line 4: unknown field "entity" \(did you mean entity_type or entity_id\?\); unknown field "metadta" \(did you mean metadata\?\)$/m);
    assert.match(r.stderr, /published 2, duplicates 0, rejected 2/);
    const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(results.map((x) => [x.line, x.sequence ?? x.error.slice(0, 21)]), [[1, 1], [2, 2], [3, 'unknown field "user" '], [4, 'unknown field "entity']]);
    assert.equal((await server.api.getStats()).lastSequence, 2, 'nothing of lines 3 and 4 was stored');
  } finally {
    await server.close();
  }
});

test('tail --json | head -2: the reader going away ends tail quietly with exit 0', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  try {
    await server.api.publishBatch({ events: [makeEvent(), makeEvent(), makeEvent()] });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'tail', '--server', server.address, '--from', '1h', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let received = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        received += c.toString();
        if (received.split('\n').length > 2) resolve();
      });
    });
    child.stdout.destroy(); // what `head -2` does after two lines
    // Events keep coming until a write finds the pipe closed.
    const publishing = setInterval(() => void server.api.publish({ event: makeEvent() }).catch(() => undefined), 20);
    try {
      assert.equal(await exited, 0, stderr);
    } finally {
      clearInterval(publishing);
    }
    assert.equal(stderr, '', 'no EPIPE stack trace');
  } finally {
    await server.close();
  }
});

/** What a terminal shows for `transcript`: carriage returns and erase-to-end-of-line applied, line by line. */
function rendered(transcript: string): string[] {
  return transcript.split('\n').map((raw) => {
    const cells: string[] = [];
    let col = 0;
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === '\r') col = 0;
      else if (raw.startsWith('\u001b[K', i)) {
        cells.length = col;
        i += 2;
      } else cells[col++] = raw[i];
    }
    return cells.join('');
  }).filter((line) => line !== '');
}

// Where script(1) is missing the test is reported skipped, as node:test's { skip: reason } did; it runs everywhere else.
const terminal = existsSync('/usr/bin/script');
if (!terminal) console.warn('skipped: needs script(1) for a terminal');
(terminal ? test : test.skip)('on a terminal, the replay progress line never runs into event lines, and is gone at the end', async () => {
  const server = await startServer({ storage: { type: 'memory' } });
  try {
    for (let i = 0; i < 6; i++) await server.api.publishBatch({ events: Array.from({ length: 500 }, () => makeEvent()) });
    const command = ['node', '--import', 'tsx', 'src/cli/main.ts', 'tail', '--server', server.address, '--from', '1h', '--to', new Date(Date.now() + 3_000).toISOString(), '--json'].join(' ');
    const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let transcript = '';
    child.stdout.on('data', (c: Buffer) => (transcript += c.toString()));
    assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 0);
    assert.match(transcript, /replayed \d+ events, up to #\d+ of #3000/, 'progress was shown');
    const lines = rendered(transcript);
    assert.equal(lines.length, 3000, lines.find((l) => !l.startsWith('{')));
    assert.deepEqual(lines.map((l) => JSON.parse(l).sequence), Array.from({ length: 3000 }, (_, i) => i + 1));
  } finally {
    await server.close();
  }
});
