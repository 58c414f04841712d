import assert from '../support/assert.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from '@jest/globals';
import { pino } from 'pino';
import { healthStatus, makeEvent, startServer, waitFor } from '../support/server.js';

/** A real small filesystem that fills up: a tmpfs, which needs root (CI runs as root). */
function mountTmpfs(megabytes: number): { dir: string; unmount: () => void } | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    return `cannot mount a tmpfs here (needs root): ${(err as Error).message.split('\n')[0]}`;
  }
  return { dir, unmount: () => execFileSync('umount', [dir]) };
}

const mounted = mountTmpfs(8);

// Where no tmpfs can be mounted (not root) the test is reported skipped with the cause, as node:test's
// { skip: reason } did; CI runs as root, so there it runs.
if (typeof mounted === 'string') console.warn(`skipped: ${mounted}`);
(typeof mounted === 'string' ? test.skip : test)('a full disk is seen and said: UNAVAILABLE, not ready with the cause, an error line, a metric; then it recovers', async () => {
  const { dir, unmount } = mounted as Exclude<typeof mounted, string>;
  const lines: Array<{ level: number; msg: string; reason?: string }> = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
  const dbPath = path.join(dir, 'audit.db');
  const server = await startServer({ storage: { path: dbPath }, server: { health_check_interval: '100ms' } }, { logger });
  try {
    const filler = path.join(dir, 'filler');
    // Leave about 1 MiB free: a few dozen events of 40 KB fill it.
    const free = () => { const s = fs.statfsSync(dir); return s.bavail * s.bsize; };
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 1024 * 1024)));
    const acked: string[] = [];
    let refused: { code?: number; details?: string } | undefined;
    for (let i = 0; i < 500 && !refused; i++) {
      const event = makeEvent({ metadata: { blob: 'x'.repeat(40_000), i } });
      await server.api.publish({ event }).then((r) => acked.push(r.eventId), (err) => { refused = err; });
    }
    assert.ok(refused, 'the disk filled up');
    assert.equal(refused.code, 14, `UNAVAILABLE, got ${refused.code} ${refused.details}`);

    const ready = await fetch(`${server.httpUrl}/readyz`);
    assert.equal(ready.status, 503);
    const body = await ready.json() as { log: string; reason: string };
    assert.equal(body.log, 'unwritable');
    assert.match(body.reason, /^SQLITE_FULL: .*\(.*audit\.db\)$/);
    assert.equal(await healthStatus(server.address), 'NOT_SERVING');
    const errors = lines.filter((l) => l.level >= 50 && /event log cannot be written/.test(l.msg));
    assert.ok(errors.length >= 1 && errors.length <= 3, `${errors.length} error lines (rate-limited)`);
    assert.match(errors[0]!.reason!, /SQLITE_FULL/);
    assert.match(await (await fetch(`${server.httpUrl}/metrics`)).text(), /^auditstream_log_write_errors_total\{reason="SQLITE_FULL"\} [1-9]/m);

    fs.rmSync(filler);
    await waitFor('readiness to come back once a write succeeds', async () => (await fetch(`${server.httpUrl}/readyz`)).status === 200);
    assert.equal(await healthStatus(server.address), 'SERVING');
    assert.ok(lines.some((l) => l.level === 30 && /writable again/.test(l.msg)));
    const after = await server.api.publish({ event: makeEvent() });
    acked.push(after.eventId);
    const stored = new Set(server.app.dispatcher.log.readAfter(0, 10_000).map((e) => e.id));
    assert.deepEqual(acked.filter((id) => !stored.has(id)), [], 'every acknowledged event is stored');
    assert.equal(server.app.dispatcher.log.verifyChain().ok, true);
  } finally {
    await server.close();
    unmount();
  }
});
