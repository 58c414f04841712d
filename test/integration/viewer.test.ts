import assert from '../support/assert.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { EventType, Result, Severity } from '../../generated/audit/v1/event.js';
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
const rows = (page: Page): Promise<Array<{ sequence: number; severity: string; type: string; time: string; title: string }>> =>
  page.$$eval('#events tr.event', (trs: any[]) => trs.map((tr) => ({
    sequence: Number(tr.dataset.sequence), severity: tr.dataset.severity ?? '', type: tr.cells[2].textContent, time: tr.cells[0].textContent, title: tr.cells[0].title,
  })));

/** The table shows exactly these event types, top to bottom. */
const typesShown = (page: Page, types: string[]) =>
  page.waitForFunction((want) => [...(globalThis as any).document.querySelectorAll('#events tr.event')].map((tr: any) => tr.cells[2].textContent).join() === want,
    types.join(), WAIT);

const rowCount = (page: Page, n: number) =>
  page.waitForFunction((want) => (globalThis as any).document.querySelectorAll('#events tr.event').length === want, n, WAIT);

/** The viewer's subscription is open on the server with `check`ing filter, and is the only one. */
const subscribedWith = (server: TestServer, check: (minSeverity?: number) => boolean) =>
  subscribedTo(server, (filter) => check(filter.minSeverity));

const subscribedTo = (server: TestServer, check: (filter: { minSeverity?: number; categories?: readonly string[]; eventTypes: readonly string[] }) => boolean) =>
  waitFor('the viewer to subscribe', () => {
    const subs = server.app.dispatcher.registry.list();
    return subs.length === 1 && check(subs[0].filter.source);
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

    // A severity filter narrows them. A new filter loads the newest events again (200 by default), so
    // the HIGH and CRITICAL of the three above are back, below the new ones.
    await page.selectOption('#f-min-severity', 'HIGH');
    await page.click('#apply');
    await subscribedWith(server, (min) => min === HIGH);
    for (const severity of [INFO, HIGH, LOW, CRITICAL]) await publish(server.client, { severity });
    await rowCount(page, 4);
    assert.deepEqual((await rows(page)).map((r) => r.severity), ['CRITICAL', 'HIGH', 'CRITICAL', 'HIGH']);

    // Pause holds new events back; resume shows them.
    await page.click('#pause');
    await publish(server.client, { severity: HIGH, entityId: 'while-paused' });
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#status-text')?.textContent === 'paused · 1 new', undefined, WAIT);
    assert.equal((await rows(page)).length, 4);
    await page.click('#pause');
    await rowCount(page, 5);

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
    await rowCount(page, 9);
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

const T = EventType;
/** Published before the page opens; the newest five (sequences 4-8) hold two security events. */
const BEFORE: EventType[] = [
  T.EVENT_TYPE_CALL_CREATED, T.EVENT_TYPE_BID_ACCEPTED, T.EVENT_TYPE_PAYMENT_PROCESSED, T.EVENT_TYPE_LOGIN_FAILED,
  T.EVENT_TYPE_CONFIG_CHANGED, T.EVENT_TYPE_SECURITY_BREACH, T.EVENT_TYPE_DATA_EXPORTED, T.EVENT_TYPE_CONSENT_GRANTED,
];
const SECURITY_TYPES = ['LOGIN_SUCCESS', 'LOGIN_FAILED', 'PERMISSION_DENIED', 'SUSPICIOUS_ACTIVITY', 'SECURITY_BREACH', 'SESSION_TERMINATED', 'DATA_EXFILTRATION_ATTEMPT'];

test('the viewer loads the newest events on open, shows dates, and picks types by category', async () => {
  const server = await startServer();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'auditstream-viewer-'));
  let context: BrowserContext | undefined;
  try {
    const published = [];
    for (const type of BEFORE) published.push((await publish(server.client, { type })).sequence);

    context = await launch(profile);
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });

    // On open: the newest five (?history=5), newest first, then live.
    await page.goto(`${server.httpUrl}/?history=5`);
    await page.waitForSelector('#status[data-state="live"]', WAIT);
    await rowCount(page, 5);
    assert.deepEqual((await rows(page)).map((r) => r.sequence), published.slice(-5).reverse());
    assert.equal(await page.inputValue('#history'), '5');
    await page.waitForFunction((want) => (globalThis as any).document.querySelector('#cursor')?.textContent === want, String(published.at(-1)), WAIT);
    await subscribedWith(server, () => true); // the probe that found the head is gone
    const live = await publish(server.client, { type: T.EVENT_TYPE_API_CALL });
    await rowCount(page, 6);
    assert.equal((await rows(page))[0].sequence, live.sequence);

    // The time column: local date and time to the millisecond; the full time in the tooltip.
    for (const row of await rows(page)) {
      assert.match(row.time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/);
      assert.match(row.title, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      // (No named helper inside: tsx would wrap it in a __name call the page does not have.)
      const local = await page.evaluate((iso) => {
        const d = new Date(iso);
        return [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]
          .map((n, i) => String(n).padStart(i === 0 ? 4 : i === 6 ? 3 : 2, '0'))
          .reduce((text, part, i) => text + ['', '-', '-', ' ', ':', ':', '.'][i] + part, '');
      }, row.title);
      assert.equal(row.time, local);
    }

    // A category checkbox picks all its types: the filter sends the category, and the newest five
    // positions are loaded again through it: of sequences 5-9 only SECURITY_BREACH (6) is a security
    // event (LOGIN_FAILED, 4, is older than the five).
    await page.waitForSelector('#f-categories .category[data-category="security"] .category-box', WAIT);
    await page.check('#f-categories .category[data-category="security"] .category-box');
    assert.equal(await page.locator('#f-types-security input:checked').count(), SECURITY_TYPES.length);
    await page.click('#apply');
    await subscribedTo(server, (f) => f.categories?.join() === 'security' && f.eventTypes.length === 0);
    await typesShown(page, ['SECURITY_BREACH']);
    await publish(server.client, { type: T.EVENT_TYPE_CALL_CREATED });
    await publish(server.client, { type: T.EVENT_TYPE_SESSION_TERMINATED });
    await typesShown(page, ['SESSION_TERMINATED', 'SECURITY_BREACH']);

    // A single type besides a whole category: the server intersects categories with event_types, so
    // the viewer sends the union as event_types. Sequences 7-11 are loaded: DATA_EXPORTED (7) and
    // SESSION_TERMINATED (11) match.
    await page.click('#f-categories .category[data-category="data"] .expand');
    await page.check('#f-types-data input[value="DATA_EXPORTED"]');
    assert.equal(await page.$eval('#f-categories .category[data-category="data"] .category-box', (b: any) => b.indeterminate), true);
    await page.click('#apply');
    await subscribedTo(server, (f) => !f.categories?.length && [...f.eventTypes].sort().join() === [...SECURITY_TYPES, 'DATA_EXPORTED'].sort().join());
    await typesShown(page, ['SESSION_TERMINATED', 'DATA_EXPORTED']);

    // The history control loads again with its size, and keeps it in the URL.
    await page.fill('#history', '10');
    await page.dispatchEvent('#history', 'change');
    await typesShown(page, ['SESSION_TERMINATED', 'DATA_EXPORTED', 'SECURITY_BREACH', 'LOGIN_FAILED']);
    assert.match(page.url(), /[?&]history=10(&|$)/);

    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/viewer-categories.png', fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await server.close();
  }
});
