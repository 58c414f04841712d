import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Result, Severity } from '../../generated/audit/v1/event.js';
import { publish, startServer, waitFor, type TestServer } from '../support/server.js';

const { SEVERITY_INFO: INFO, SEVERITY_LOW: LOW, SEVERITY_HIGH: HIGH, SEVERITY_CRITICAL: CRITICAL } = Severity;
const CHROMIUM = '/usr/bin/chromium';
const WAIT = { timeout: 10_000 };

/** Debian's chromium with a throwaway profile; nothing reaches beyond this machine. */
function launch(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

// Functions passed to the page run in the browser; this project compiles without the DOM types.
const rows = (page: Page): Promise<Array<{ sequence: number; severity: string }>> =>
  page.$$eval('#events tr.event', (trs: any[]) => trs.map((tr) => ({ sequence: Number(tr.dataset.sequence), severity: tr.dataset.severity ?? '' })));

const rowCount = (page: Page, n: number) =>
  page.waitForFunction((want) => (globalThis as any).document.querySelectorAll('#events tr.event').length === want, n, WAIT);

/** The viewer's subscription is open on the server with `check`ing filter, and is the only one. */
const subscribedWith = (server: TestServer, check: (minSeverity?: number) => boolean) =>
  waitFor('the viewer to subscribe', () => {
    const subs = server.app.dispatcher.registry.list();
    return subs.length === 1 && check(subs[0].filter.source.minSeverity);
  }, 10_000);

test('the viewer shows events live, narrows by severity, pauses, and resumes after a reconnect without loss', async () => {
  const server = await startServer();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'auditstream-viewer-'));
  let context: BrowserContext | undefined;
  try {
    context = await launch(profile);
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${server.httpUrl}/`);
    await page.waitForSelector('#status[data-state="live"]', WAIT);
    await page.waitForSelector('#f-min-severity option[value="HIGH"]', { ...WAIT, state: 'attached' });
    await subscribedWith(server, () => true);

    // Live: events published through gRPC appear.
    const first = [];
    for (const [severity, entityId] of [[INFO, 'call-1'], [HIGH, 'call-2'], [CRITICAL, 'call-3']] as const) {
      first.push(await publish(server.client, { severity, entityId, metadata: { region: 'eu', amount: 12.5 } }));
    }
    await rowCount(page, 3);
    assert.deepEqual((await rows(page)).map((r) => r.sequence), first.map((a) => a.sequence).reverse()); // newest first

    // A severity filter narrows them.
    await page.selectOption('#f-min-severity', 'HIGH');
    await page.click('#apply');
    await subscribedWith(server, (min) => min === HIGH);
    for (const severity of [INFO, HIGH, LOW, CRITICAL]) await publish(server.client, { severity });
    await rowCount(page, 2);
    assert.deepEqual((await rows(page)).map((r) => r.severity), ['CRITICAL', 'HIGH']);

    // Pause holds new events back; resume shows them.
    await page.click('#pause');
    await publish(server.client, { severity: HIGH, entityId: 'while-paused' });
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#status-text')?.textContent === 'paused · 1 new', undefined, WAIT);
    assert.equal((await rows(page)).length, 2);
    await page.click('#pause');
    await rowCount(page, 3);

    // The server cuts the connection; events published meanwhile arrive after the automatic reconnect.
    await page.evaluate(() => {
      // Records the indicator's states, to see that the viewer really went through a reconnect.
      const g = globalThis as any;
      const status = g.document.querySelector('#status');
      g.seenStates = [];
      new g.MutationObserver(() => g.seenStates.push(status.dataset.state)).observe(status, { attributes: true });
    });
    const before = server.app.dispatcher.registry.list()[0].id;
    for (const conn of server.app.http.connections) conn.socket.terminate();
    const missed = [];
    for (let i = 0; i < 3; i++) {
      missed.push(await publish(server.client, {
        severity: CRITICAL, entityId: `missed-${i}`, userId: `u-${i}`, result: Result.RESULT_FAILURE, metadata: { attempt: i, ip: '10.1.2.3' },
      }));
    }
    await waitFor('the viewer to subscribe again', () => {
      const subs = server.app.dispatcher.registry.list();
      return subs.length === 1 && subs[0].id !== before;
    }, 10_000);
    const live = await publish(server.client, { severity: HIGH, entityId: 'after', result: Result.RESULT_SUCCESS });
    await rowCount(page, 7);
    assert.ok((await page.evaluate(() => (globalThis as any).seenStates)).includes('reconnecting'));
    const sequences = (await rows(page)).map((r) => r.sequence);
    assert.equal(new Set(sequences).size, sequences.length, 'no event shown twice');
    assert.deepEqual(sequences.slice(0, 4), [live, ...missed.reverse()].map((a) => a.sequence));
    // Sequences arrive as decimal strings (canonical proto JSON for uint64); the cursor the viewer resumes
    // from is the highest of them, compared as numbers ("10" after "9"), not as text.
    await page.waitForFunction((want) => (globalThis as any).document.querySelector('#cursor')?.textContent === want, String(live.sequence), WAIT);

    await page.click('#events tr.event:nth-child(2)'); // show one event's metadata in the screenshot
    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/viewer.png', fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await server.close();
  }
});
