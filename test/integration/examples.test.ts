/**
 * The programs in examples/ run as a user would run them, as processes against real servers: the
 * Python grpcio subscriber (Debian's /usr/bin/python3 with python3-grpcio: `make python-grpc`) across
 * a SIGKILL and restart of the server, the curl publisher, and the webhook receiver, fed by a real
 * webhook and by hand-made requests with bad signatures.
 */
import assert from '../support/assert.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { test } from '@jest/globals';
import { credentials } from '@grpc/grpc-js';
import { AuditServiceClient, type PublishResponse } from '../../generated/audit/v1/audit_service.js';
import { EventType } from '../../generated/audit/v1/event.js';
import { SECRET as JWT_SECRET, token } from '../support/security.js';
import { startServerProcess } from '../support/server-process.js';
import { makeEvent, publish, StreamReader, waitFor, withServer, within } from '../support/server.js';
import { fastWebhooks, webhookApi } from '../support/webhook-receiver.js';

const PYTHON = '/usr/bin/python3';
const SUBSCRIBER = 'examples/python-subscriber/subscribe.py';
const PUBLISHER = 'examples/curl-publisher/publish.sh';
const RECEIVER = 'examples/webhook-receiver/receiver.mjs';

/** A stream's lines as they arrive, with bounded waits for the ones a test expects. */
class Lines {
  readonly lines: string[] = [];
  private listeners: Array<() => boolean> = [];

  constructor(stream: Readable) {
    createInterface({ input: stream }).on('line', (line) => {
      this.lines.push(line);
      this.listeners = this.listeners.filter((settled) => !settled());
    });
  }

  /** Resolves with check()'s first defined value, re-checked on every new line; fails after `ms`. */
  until<T>(what: string, check: (lines: string[]) => T | undefined, ms = 10_000): Promise<T> {
    return within(new Promise<T>((resolve) => {
      const settled = (): boolean => {
        const value = check(this.lines);
        if (value === undefined) return false;
        resolve(value);
        return true;
      };
      if (!settled()) this.listeners.push(settled);
    }), `${what} (lines so far:\n${this.lines.join('\n')})`, ms);
  }
}

interface Running {
  readonly child: ChildProcess;
  readonly stdout: Lines;
  readonly stderr: Lines;
  readonly exited: Promise<number | null>;
  /** SIGTERM unless it has exited; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function run(command: string, args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  // Settles with the code once the pipes are drained too ('close', not 'exit'): every line is in.
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return {
    child, exited, stdout: new Lines(child.stdout!), stderr: new Lines(child.stderr!),
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a command to its end (bounded), with what it wrote. */
async function runToEnd(command: string, args: string[], env: Record<string, string>) {
  const p = run(command, args, env);
  const code = await within(p.exited, `${command} to finish`, 15_000);
  return { code, stdout: p.stdout.lines.join('\n'), stderr: p.stderr.lines.join('\n') };
}

/** `auditstream serve` on a given gRPC port and database (startServerProcess always asks for port 0). */
async function serveOn(port: number, db: string): Promise<{ stop(): Promise<number | null> }> {
  const config = path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-examples-')), 'config.yaml');
  writeFileSync(config, `server:\n  host: 127.0.0.1\n  grpc_port: ${port}\n  http_port: 0\nstorage:\n  path: ${db}\nlogging:\n  level: info\n`);
  const server = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config]);
  await within(Promise.race([
    server.stdout.until('the serving line', (lines) => lines.find((l) => l.includes(`"grpcPort":${port}`)), 30_000),
    server.exited.then((code) => Promise.reject(new Error(`the restarted server exited with ${code}: ${server.stderr.lines.join('\n')}`))),
  ]), 'the restarted server to serve', 30_000);
  return server;
}

test('python subscriber: prints every acknowledged matching event once, in order, across a SIGKILL and restart of the server', async () => {
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-examples-')), 'audit.db');
  const first = await startServerProcess('logging:\n  level: info\n', db);
  const address = `127.0.0.1:${first.grpcPort}`;
  let restarted: { stop(): Promise<number | null> } | undefined;
  const subscriber = run(PYTHON, [SUBSCRIBER, '--server', address, '--type', 'EVENT_TYPE_LOGIN_FAILED', '--max-events', '6', '--max-backoff', '0.5']);
  const acked: PublishResponse[] = [];
  // A matching event, with a non-matching one before it that the subscriber must not print.
  const publishPair = async (client: AuditServiceClient) => {
    await publish(client, makeEvent({ type: EventType.EVENT_TYPE_CALL_CREATED }));
    acked.push(await publish(client, makeEvent({ type: EventType.EVENT_TYPE_LOGIN_FAILED, action: 'login' })));
  };
  try {
    await subscriber.stderr.until('the subscription to start', (lines) => lines.find((l) => l.includes('subscribed:')), 20_000);
    const client = new AuditServiceClient(address, credentials.createInsecure());
    for (let i = 0; i < 3; i++) await publishPair(client);
    client.close();
    await subscriber.stdout.until('the first 3 events', (lines) => (lines.length >= 3 ? lines : undefined));
    const cursorBeforeKill = (JSON.parse(subscriber.stdout.lines[2]!) as { cursor: string }).cursor;

    first.child.kill('SIGKILL');
    await first.exited;
    restarted = await serveOn(first.grpcPort, db);
    // Published while the subscriber may still be reconnecting: only a resume from its cursor gets them.
    const again = new AuditServiceClient(address, credentials.createInsecure());
    for (let i = 0; i < 3; i++) await publishPair(again);
    again.close();

    const code = await within(subscriber.exited, 'the subscriber to exit after 6 events', 30_000);
    assert.equal(code, 0, subscriber.stderr.lines.join('\n'));
    const printed = subscriber.stdout.lines.map((l) => JSON.parse(l) as { id: string; sequence: string; type: string });
    assert.deepEqual(printed.map((e) => e.id), acked.map((a) => a.eventId), 'every acknowledged matching event, in order, once');
    assert.deepEqual(printed.map((e) => e.sequence), acked.map((a) => String(a.sequence)), 'proto JSON: uint64 as a string');
    assert.ok(printed.every((e) => e.type === 'EVENT_TYPE_LOGIN_FAILED'), 'the --type filter holds');
    assert.ok(subscriber.stderr.lines.some((l) => /^subscribe\.py: UNAVAILABLE .*reconnecting in/.test(l)), 'it lost the stream and reconnected');
    const resumed = subscriber.stderr.lines.filter((l) => l.includes('subscribed:')).slice(1);
    assert.ok(resumed.length > 0, 'it subscribed again');
    assert.ok(resumed.every((l) => l.endsWith(`after cursor ${cursorBeforeKill}`)), `resumed after the last event printed (${cursorBeforeKill}): ${resumed.join('; ')}`);
  } finally {
    await subscriber.stop();
    await restarted?.stop();
    if (first.child.exitCode === null && first.child.signalCode === null) await first.stop();
  }
});

test('python subscriber: SIGTERM stops it with exit code 0 and the cursor to resume from', async () => {
  await withServer({}, async (server) => {
    const subscriber = run(PYTHON, [SUBSCRIBER, '--server', server.address]);
    try {
      await subscriber.stderr.until('the subscription to start', (lines) => lines.find((l) => l.includes('subscribed:')), 20_000);
      const ack = await publish(server.client, makeEvent());
      await subscriber.stdout.until('the event', (lines) => lines.find((l) => l.includes(ack.eventId)));
      assert.equal(await within(subscriber.stop(), 'the subscriber to stop'), 0);
      assert.equal(subscriber.stderr.lines.at(-1), `subscribe.py: stopped; resume with --after-cursor ${ack.cursor}`);
      await waitFor('its subscription to be released', async () => (await server.api.listSubscriptions()).subscriptions.length === 0);
    } finally {
      await subscriber.stop();
    }
  });
});

test('curl publisher: one event and a batch are stored as sent; a refused event exits 1 with the JSON error', async () => {
  await withServer({}, async (server) => {
    const env = { AUDITSTREAM_URL: server.httpUrl, AUDITSTREAM_TOKEN: '' };
    const one = await runToEnd(PUBLISHER, [JSON.stringify({ type: 'EVENT_TYPE_LOGIN_FAILED', action: 'login', user_id: 'alice', metadata: { ip: '203.0.113.7' } })], env);
    assert.equal(one.code, 0, one.stderr);
    const ack = JSON.parse(one.stdout) as { eventId: string; sequence: string };
    const batch = await runToEnd(PUBLISHER, [
      JSON.stringify({ type: 'EVENT_TYPE_CALL_CREATED', action: 'create', entityType: 'call', entityId: 'call-42' }),
      JSON.stringify({ type: 'EVENT_TYPE_CALL_COMPLETED', action: 'hangup', entityType: 'call', entityId: 'call-42' }),
    ], env);
    assert.equal(batch.code, 0, batch.stderr);
    const batchAck = JSON.parse(batch.stdout) as { acceptedCount: number; results: Array<{ eventId: string }> };
    assert.equal(batchAck.acceptedCount, 2);

    // Read back over gRPC, from the start of the log.
    const reader = StreamReader.open(server.client, { afterSequence: 0 });
    const stored = await reader.eventsUntil(3);
    reader.cancel();
    assert.deepEqual(stored.map((e) => e.id), [ack.eventId, ...batchAck.results.map((r) => r.eventId)]);
    assert.equal(String(stored[0]!.sequence), ack.sequence);
    assert.deepEqual([stored[0]!.type, stored[0]!.userId, stored[0]!.metadata], [EventType.EVENT_TYPE_LOGIN_FAILED, 'alice', { ip: '203.0.113.7' }]);
    assert.deepEqual(stored.slice(1).map((e) => [e.type, e.action, e.entityId]),
      [[EventType.EVENT_TYPE_CALL_CREATED, 'create', 'call-42'], [EventType.EVENT_TYPE_CALL_COMPLETED, 'hangup', 'call-42']]);

    const refused = await runToEnd(PUBLISHER, [JSON.stringify({ type: 'EVENT_TYPE_CALL_CREATED', action: 'create', colour: 'red' })], env);
    assert.deepEqual([refused.code, refused.stdout], [1, '']);
    assert.deepEqual(JSON.parse(refused.stderr), {
      code: 'invalid_argument', message: 'event.colour: unknown field: audit.v1.AuditEvent has no field by this name (proto or JSON name)',
    });
    const partly = await runToEnd(PUBLISHER, [JSON.stringify({ type: 'EVENT_TYPE_CALL_CREATED', action: 'create' }), JSON.stringify({ type: 'EVENT_TYPE_CALL_CREATED' })], env);
    assert.deepEqual([partly.code, partly.stdout], [1, ''], 'a batch with a refused event fails');
    const answer = JSON.parse(partly.stderr) as { acceptedCount: number; rejectedCount: number; results: Array<{ error?: { field: string } }> };
    assert.deepEqual([answer.acceptedCount, answer.rejectedCount, answer.results[1]?.error?.field], [1, 1, 'events[1].action']);
    assert.equal((await server.api.getStats()).eventsPublished, 4, 'the three first events and the valid one of the last batch');

    const unreachable = await runToEnd(PUBLISHER, ['{"type":"EVENT_TYPE_CALL_CREATED","action":"create"}'], { AUDITSTREAM_URL: 'http://127.0.0.1:9' });
    assert.equal(unreachable.code, 7, 'curl\'s own failure keeps its code (7: could not connect)');
    assert.match(unreachable.stderr, /^curl: \(7\)/);
  });
});

test('curl publisher: sends AUDITSTREAM_TOKEN as a bearer token', async () => {
  await withServer({ security: { enabled: true, jwt: { secret: JWT_SECRET } } }, async (server) => {
    const event = JSON.stringify({ type: 'EVENT_TYPE_CALL_CREATED', action: 'create' });
    const anonymous = await runToEnd(PUBLISHER, [event], { AUDITSTREAM_URL: server.httpUrl, AUDITSTREAM_TOKEN: '' });
    assert.equal(anonymous.code, 1);
    assert.equal((JSON.parse(anonymous.stderr) as { code: string }).code, 'unauthenticated');
    const jwt = await token('curl-example', ['publisher']);
    const signedIn = await runToEnd(PUBLISHER, [event], { AUDITSTREAM_URL: server.httpUrl, AUDITSTREAM_TOKEN: jwt });
    assert.equal(signedIn.code, 0, signedIn.stderr);
    assert.equal((JSON.parse(signedIn.stdout) as { sequence: string }).sequence, '1');
  });
});

test('webhook receiver: prints each delivered event once, after verifying it; refuses bad signatures and stale timestamps with 401', async () => {
  const secret = 'an-example-webhook-secret-0123456789';
  const receiver = run(process.execPath, [RECEIVER], { PORT: '0', HOST: '127.0.0.1', WEBHOOK_SECRET: secret });
  try {
    const url = await receiver.stderr.until('the receiver to listen', (lines) => lines.map((l) => /listening on (http:\S+)/.exec(l)?.[1]).find(Boolean));
    // A wide timeout: "none failed" is about the receiver's answers, not about a loaded machine's 300 ms.
    await withServer({ webhooks: { defaults: fastWebhooks({ timeout: 10_000 }) } }, async (server) => {
      const hooks = webhookApi(server.client);
      await hooks.create({ name: 'example', url, secret, batchSize: 2 });
      const acked: PublishResponse[] = [];
      for (let i = 0; i < 5; i++) acked.push(await publish(server.client, makeEvent()));
      await receiver.stdout.until('the 5 events', (lines) => (lines.length >= 5 ? lines : undefined));
      const printed = receiver.stdout.lines.map((l) => JSON.parse(l) as { id: string; sequence: string });
      assert.deepEqual(printed.map((e) => [e.id, e.sequence]), acked.map((a) => [a.eventId, String(a.sequence)]), 'in log order, once each');
      // The receiver answered every request 2xx: the service counts them sent, none failed.
      await waitFor('the webhook status to count 5 sent', async () => (await hooks.status('example')).sent === 5);
      assert.equal((await hooks.status('example')).failed, 0);
      await hooks.delete('example');
    });

    // Requests made by hand: signed as the service signs them, or not quite.
    const sign = (timestamp: number, body: string, key = secret) => `v1=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
    const post = async (body: string, headers: Record<string, string>) =>
      (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })).status;
    const now = Math.floor(Date.now() / 1000);
    const event = { id: randomUUID(), type: 'EVENT_TYPE_LOGIN_FAILED', action: 'login', sequence: '1000' };
    const body = JSON.stringify({ events: [event] });
    const signed = { 'webhook-id': 'hand-made', 'webhook-timestamp': String(now), 'webhook-signature': sign(now, body) };
    assert.equal(await post(body, { ...signed, 'webhook-signature': sign(now, body, 'another-secret-0123456789') }), 401, 'another secret');
    assert.equal(await post(body.replace('login', 'logout'), signed), 401, 'the body changed after signing');
    assert.equal(await post(body, { ...signed, 'webhook-timestamp': String(now + 1) }), 401, 'the timestamp changed after signing');
    assert.equal(await post(body, { ...signed, 'webhook-timestamp': String(now - 301), 'webhook-signature': sign(now - 301, body) }), 401, 'older than 5 minutes: a replay');
    assert.equal(await post(body, { 'webhook-id': 'hand-made' }), 401, 'unsigned');
    // The same request signed now passes: the refusals above were for the signature or the timestamp alone.
    assert.equal(await post(body, signed), 204);
    assert.equal(await post(body, signed), 204, 'a redelivery is acknowledged...');
    const last = { ...event, id: randomUUID(), sequence: '1001' };
    const lastBody = JSON.stringify({ events: [last] });
    assert.equal(await post(lastBody, { ...signed, 'webhook-signature': sign(now, lastBody) }), 204);
    await receiver.stdout.until('the last hand-made event', (lines) => lines.find((l) => l.includes(last.id)));
    assert.deepEqual(receiver.stdout.lines.slice(5).map((l) => (JSON.parse(l) as { id: string }).id), [event.id, last.id],
      '...but not printed twice; refused requests printed nothing');
    assert.equal(receiver.stderr.lines.filter((l) => l.includes('refused a request')).length, 5);
    assert.equal(await within(receiver.stop(), 'the receiver to stop on SIGTERM'), 0);
  } finally {
    await receiver.stop();
  }
});
