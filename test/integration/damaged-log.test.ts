import assert from '../support/assert.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { isAppError } from '../../src/domain/errors.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { cli } from '../support/cli.js';

const clock = { now: () => new Date() };

function tempFile(name = 'log.db'): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-damaged-')), name);
}

/** A log of `n` events with some metadata, closed and checkpointed into its main file. */
async function logFile(n: number): Promise<string> {
  const file = tempFile();
  const log = new SqliteEventLog({ path: file, clock });
  for (let i = 0; i < n; i += 500) {
    await log.append(Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
      id: crypto.randomUUID(), type: 'CALL_CREATED' as const, severity: 1 as const, timestamp: new Date(), userId: `u${j % 7}`,
      entityType: 'call', entityId: `c${i + j}`, action: 'create', result: 'SUCCESS' as const, metadata: { i: i + j, note: 'n'.repeat(50) },
      correlationId: '', source: '', traceparent: '',
    })));
  }
  log.database.pragma('wal_checkpoint(TRUNCATE)');
  await log.close();
  return file;
}


test('only a missing file starts a new log: a zero-length, truncated or foreign file is refused with its path', async () => {
  const empty = tempFile();
  fs.writeFileSync(empty, '');
  assert.throws(() => new SqliteEventLog({ path: empty, clock }), new RegExp(`^Error: ${empty} is empty \\(0 bytes\\), not an event log: restore a backup`));
  const text = tempFile();
  fs.writeFileSync(text, 'not a database at all, just some text that is long enough '.repeat(100));
  assert.throws(() => new SqliteEventLog({ path: text, clock }), new RegExp(`^Error: ${text} is not a usable event log: .*Restore a backup`));
  const truncated = await logFile(3000);
  fs.truncateSync(truncated, Math.floor(fs.statSync(truncated).size / 2));
  assert.throws(() => new SqliteEventLog({ path: truncated, clock }), new RegExp(`${truncated}`));
});

test('a damaged page is refused at start (quick_check), VerifyChain says DATA_LOSS, and verify --offline finds it', async () => {
  const file = await logFile(3000);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 4096 * 20); // one page in the middle overwritten
  fs.closeSync(fd);
  assert.throws(() => new SqliteEventLog({ path: file, clock }), /is not a usable event log: failed its integrity check/);

  const unchecked = new SqliteEventLog({ path: file, clock, integrityCheck: false, readOnly: true });
  assert.throws(() => unchecked.verifyChain(), (err: unknown) => isAppError(err) && err.code === 'DATA_LOSS' && /database is damaged \(SQLITE_CORRUPT/.test(err.message));
  await unchecked.close();

  const offline = await cli(['verify', '--offline', file]);
  assert.equal(offline.code, 1);
  assert.match(offline.stdout, /^DAMAGED: .*failed its integrity check/);
});

test('16 changed bytes inside an event are a hash mismatch, by VerifyChain and verify --offline', async () => {
  const file = await logFile(1000);
  const bytes = fs.readFileSync(file);
  // The note's 50 n's inside an event's stored bytes, which the file holds as base64 ('nnn' is 'bm5u').
  const at = bytes.indexOf(Buffer.from('bm5u'.repeat(10)), bytes.length / 2);
  assert.ok(at > 0, 'an event\'s stored bytes found in the file');
  bytes.write('X'.repeat(16), at + 8, 'latin1');
  fs.writeFileSync(file, bytes);
  const log = new SqliteEventLog({ path: file, clock, readOnly: true });
  const result = log.verifyChain();
  await log.close();
  assert.equal(result.ok, false);
  assert.equal(result.firstBreak?.kind, 'hash_mismatch');
  const offline = await cli(['verify', '--offline', file]);
  assert.equal(offline.code, 1);
  assert.match(offline.stdout, new RegExp(`chain BROKEN at sequence ${result.firstBreak!.sequence}: hash_mismatch`));
  const intact = await cli(['verify', '--offline', await logFile(600)]);
  assert.equal(intact.code, 0);
  assert.match(intact.stdout, /chain intact: 600 events verified \(1\.\.600\)/);
});
