import assert from '../support/assert.js';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { type AuditServiceClient, type BackupResponse, QueryOrder, type VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import { readAll } from '../support/history.js';
import { bearer, SECRET, token } from '../support/security.js';
import { makeEvent, startServer, type TestServer } from '../support/server.js';
import { cli } from '../support/cli.js';


function verifyChain(client: AuditServiceClient): Promise<VerifyChainResponse> {
  return new Promise((resolve, reject) => client.verifyChain({ fromSequence: 0, toSequence: 0 }, (e, r) => (e ? reject(e) : resolve(r))));
}

/** Every message of a Backup stream, or its error. */
function backupMessages(stream: ClientReadableStream<BackupResponse>): Promise<BackupResponse[]> {
  return new Promise((resolve, reject) => {
    const messages: BackupResponse[] = [];
    stream.on('data', (m: BackupResponse) => messages.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(messages));
  });
}

interface Ack {
  readonly id: string;
  readonly sequence: number;
}

/** Clients publishing batches of 50 in a loop until stopped, recording every acknowledgement. */
function publishContinuously(server: TestServer, clients: number) {
  const acks: Ack[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const r = await server.api.publishBatch({ events: Array.from({ length: 50 }, () => makeEvent({ metadata: { note: 'x'.repeat(1500) } })) });
      for (const result of r.results) {
        if (result.outcome?.$case === 'stored') acks.push({ id: result.eventId, sequence: result.outcome.stored.sequence });
      }
    }
  });
  return {
    acks,
    async stop(): Promise<void> {
      running = false;
      await Promise.all(loops);
    },
    async until(count: number): Promise<void> {
      while (acks.length < count) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

const folder = (): string => mkdtempSync(path.join(tmpdir(), 'auditstream-backup-'));

test('a backup taken while clients publish restores to a log holding every event acknowledged before it began', async () => {
  const dir = folder();
  const db = path.join(dir, 'audit.db');
  const dest = path.join(dir, 'copy.db');
  const server = await startServer({ storage: { path: db } });
  let running: TestServer | undefined;
  try {
    const load = publishContinuously(server, 2);
    await load.until(2000);
    const beforeBackup = load.acks.slice(); // every acknowledgement received before the backup began
    const backup = await cli(['backup', dest, '--server', server.address, '--json']);
    const duringBackup = load.acks.length - beforeBackup.length;
    await load.stop();
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(backup.stderr, '', 'no progress when stderr is not a terminal');
    assert.ok(duringBackup > 0, 'publishing went on during the backup');
    const printed = JSON.parse(backup.stdout) as { sequence: number; hash: string; bytes: number };
    const head = JSON.parse(readFileSync(`${dest}.head.json`, 'utf8')) as { sequence: number; hash: string; bytes: number; sha256: string; time: string };
    assert.deepEqual({ ...printed, ...head }, printed);
    assert.equal(head.bytes, statSync(dest).size);
    assert.match(head.hash, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(head.time)));
    assert.ok(beforeBackup.every((a) => a.sequence <= head.sequence), 'the copy covers every event acknowledged before it began');
    const published = server.app.dispatcher.log.lastSequence();
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'no temporary file is left, on the server or by the CLI');
    await server.close();

    const restore = await cli(['restore', dest, '--db', db, '--json']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(JSON.parse(restore.stdout), { restored: true, source: dest, target: db, sequence: head.sequence, hash: head.hash, checked: head.sequence });

    running = await startServer({ storage: { path: db } });
    const chain = await verifyChain(running.client);
    assert.deepEqual([chain.ok, chain.firstSequence, chain.lastSequence, chain.checked], [true, 1, head.sequence, head.sequence]);
    assert.ok(head.sequence <= published);

    const events = await readAll(running.client, QueryOrder.QUERY_ORDER_ASCENDING);
    assert.deepEqual(events.map((e) => e.sequence), Array.from({ length: head.sequence }, (_, i) => i + 1), 'sequences 1..head, each once');
    const stored = new Map(events.map((e) => [e.id, e]));
    assert.equal(stored.size, events.length, 'no event is there twice');
    for (const ack of beforeBackup) assert.equal(stored.get(ack.id)?.sequence, ack.sequence, `event ${ack.id} (sequence ${ack.sequence}) is in the restored log`);
    assert.equal(Buffer.from(events.at(-1)!.hash).toString('hex'), head.hash, 'the head file names the newest event');

    const next = await running.api.publish({ event: makeEvent() });
    assert.equal(next.sequence, head.sequence + 1, 'sequences continue from the restored head');
    assert.equal((await verifyChain(running.client)).ok, true);

    const whileRunning = await cli(['restore', dest, '--db', db]);
    assert.equal(whileRunning.code, 1);
    assert.match(whileRunning.stderr, /^restore refused: .*is in use \(is the server running\? stop it first\)\n$/);
    assert.equal((await running.api.publish({ event: makeEvent() })).sequence, head.sequence + 2, 'the running server kept its log');
  } finally {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restore refuses a damaged copy or one its head file does not describe, and leaves the target untouched', async () => {
  const dir = folder();
  const db = path.join(dir, 'audit.db');
  const dest = path.join(dir, 'copy.db');
  const server = await startServer({ storage: { path: db } });
  try {
    for (let i = 0; i < 20; i++) await server.api.publishBatch({ events: Array.from({ length: 50 }, () => makeEvent({ metadata: { note: 'y'.repeat(300) } })) });
    const backup = await cli(['backup', dest, '--server', server.address]);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /^backed up the log to .* head sequence 1000, hash [0-9a-f]{64}\n$/);
  } finally {
    await server.close();
  }
  const target = readFileSync(db);
  const untouched = (): void => assert.ok(readFileSync(db).equals(target), 'the target is untouched');

  // Bytes flipped across a page boundary in the middle of the copy.
  const damaged = path.join(dir, 'damaged.db');
  const bytes = readFileSync(dest);
  const middle = Math.floor(bytes.length / 2);
  for (let i = middle - 2048; i < middle + 2048; i++) bytes[i] ^= 0xff;
  writeFileSync(damaged, bytes);
  copyFileSync(`${dest}.head.json`, `${damaged}.head.json`);
  const withHead = await cli(['restore', damaged, '--db', db]);
  assert.equal(withHead.code, 1);
  assert.match(withHead.stderr, /^restore refused: .*differs from the copy .*damaged\.db\.head\.json describes.*\n$/);
  untouched();

  // Without its head file, SQLite's integrity check or the hash chain finds the damage.
  rmSync(`${damaged}.head.json`);
  const withoutHead = await cli(['restore', damaged, '--db', db]);
  assert.equal(withoutHead.code, 1);
  assert.match(withoutHead.stderr, /^restore refused: .*(integrity check|hash chain|not a usable event log|malformed).*\n$/);
  assert.equal(withoutHead.stderr.split('\n').length, 2, 'one line');
  untouched();

  // A sound copy with a head file naming another head.
  const head = JSON.parse(readFileSync(`${dest}.head.json`, 'utf8')) as { sequence: number; sha256?: string };
  writeFileSync(`${dest}.head.json`, JSON.stringify({ ...head, sequence: head.sequence + 5, sha256: undefined }));
  const wrongHead = await cli(['restore', dest, '--db', db]);
  assert.equal(wrongHead.code, 1);
  assert.match(wrongHead.stderr, /holds head sequence 1000, .* says 1005/);
  untouched();

  const missing = await cli(['restore', path.join(dir, 'nothing.db'), '--db', db]);
  assert.deepEqual([missing.code, missing.stderr], [1, `restore refused: ${path.join(dir, 'nothing.db')}: no such file\n`]);
  const usage = await cli(['restore', dest, '--db', db, '--config', 'x.yaml']);
  assert.equal(usage.code, 2);
  untouched();
  rmSync(dir, { recursive: true, force: true });
});

test('Backup is for admins only, and only of the SQLite log', async () => {
  const secure = await startServer({ security: { enabled: true, jwt: { secret: SECRET } } });
  try {
    const operator = await token('olga', ['operator']);
    const denied = await backupMessages(secure.client.backup({}, bearer(operator).metadata)).catch((e: ServiceError) => e);
    assert.equal((denied as ServiceError).code, status.PERMISSION_DENIED);

    const admin = await token('ada', ['admin']);
    const messages = await backupMessages(secure.client.backup({}, bearer(admin).metadata));
    const kinds = messages.map((m) => m.kind?.$case);
    assert.equal(kinds.at(-1), 'head');
    assert.ok(kinds.includes('progress') && kinds.includes('data'));
    const data = Buffer.concat(messages.flatMap((m) => (m.kind?.$case === 'data' ? [m.kind.data] : [])));
    const last = messages.at(-1)!.kind;
    assert.equal(last?.$case === 'head' && last.head.bytes, data.length);
    assert.equal(data.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');

    // A backup the caller cancels leaves no temporary copy beside the database.
    const cancelled = secure.client.backup({}, bearer(admin).metadata);
    await new Promise((resolve) => cancelled.once('data', resolve));
    cancelled.cancel();
    await backupMessages(cancelled).catch(() => undefined);
    const dir = path.dirname(secure.app.config.storage.path);
    for (let i = 0; i < 100 && readdirSync(dir).some((f) => f.endsWith('.tmp')); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  } finally {
    await secure.close();
  }

  const memory = await startServer({ storage: { type: 'memory' } });
  try {
    const refused = await backupMessages(memory.client.backup({})).catch((e: ServiceError) => e);
    assert.equal((refused as ServiceError).code, status.FAILED_PRECONDITION);
  } finally {
    await memory.close();
  }
});
