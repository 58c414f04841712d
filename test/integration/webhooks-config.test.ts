/**
 * Webhooks declared in the configuration: validation with the key named, creation at start, update
 * when changed (same id, same cursor), paused when no longer declared; and storage.type memory.
 */
import assert from '../support/assert.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { EventType } from '../../generated/audit/v1/event.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { makeEvent, publish, startServer, waitFor } from '../support/server.js';
import { fastWebhooks, WebhookReceiver, webhookApi } from '../support/webhook-receiver.js';

const SECRET = 'configured-secret-0123456789';

function problems(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n').slice(1).map((line) => line.trim());
  }
  assert.fail('the config was accepted');
}

test('configuration errors name the key and say what would work', () => {
  assert.deepEqual(problems({
    webhooks: {
      defaults: { batch_size: 5000, timeout: 0, retry_delay: 'soon' },
      endpoints: {
        'no spaces': { url: 'http://127.0.0.1/x', secret: SECRET },
        typo: { urll: 'http://127.0.0.1/x', secret: SECRET },
        ftp: { url: 'ftp://127.0.0.1/x', secret_file: 'relative/secret', filter: { event_type: ['CALL_CREATED'] } },
        both: { url: 'http://127.0.0.1/x', secret: SECRET, secret_file: '/etc/secret', roles: ['wizard'] },
        short: { url: 'http://127.0.0.1/x', secret: 'hunter2' },
      },
    },
  }), [
    'webhooks.defaults.batch_size: must be at most 1000',
    'webhooks.defaults.timeout: must be more than 0',
    'webhooks.defaults.retry_delay: "soon" is not a duration: use a number of milliseconds or 250ms, 10s, 5m, 1h',
    'webhooks.endpoints.no spaces: is not a webhook name: 1 to 100 letters, digits, ".", "_" or "-"',
    'webhooks.endpoints.typo.urll: unknown key; did you mean url?',
    'webhooks.endpoints.ftp.url: must be http or https, not ftp',
    'webhooks.endpoints.ftp.secret_file: must be an absolute path',
    'webhooks.endpoints.ftp.filter.event_type: unknown key; did you mean event_types?',
    'webhooks.endpoints.both: needs secret or secret_file (one of them)',
    'webhooks.endpoints.both.roles: unknown role "wizard"; roles: admin, publisher, security, compliance, operator, auditor',
    'webhooks.endpoints.short: secret must be 16 to 512 characters (the value is not shown)',
  ]);
  const one = { endpoints: { siem: { url: 'https://siem.example.com/in', secret: SECRET } } };
  assert.deepEqual(problems({ storage: { type: 'kafka' }, webhooks: one }),
    ['webhooks.endpoints: webhooks need storage.type sqlite or memory: in cluster mode every node would deliver every event']);
  assert.deepEqual(problems({ security: { enabled: true, jwt: { secret: 'x'.repeat(40) } }, webhooks: one }),
    ['webhooks.endpoints.siem.roles: is required with security on: the roles whose view this webhook delivers (visibility and redaction)']);
  const ok = parseConfig({ webhooks: { endpoints: { siem: { ...one.endpoints.siem, timeout: '5s', filter: { categories: ['security'], minSeverity: 'HIGH' } } } } });
  assert.deepEqual([ok.webhooks.endpoints.siem?.timeout, ok.webhooks.defaults.timeout, ok.webhooks.defaults.max_retries], [5000, 10_000, 15]);
});

test('what only the server can check is refused at start, naming the key', async () => {
  const endpoint = { url: 'http://127.0.0.1:9/x', secret: SECRET };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ filter: { event_types: ['NOPE'] } }, /^invalid configuration:\n {2}webhooks\.endpoints\.bad\.filter\.event_types\[0\]: unknown event type "NOPE"/],
    [{ filter: { expression: 'event.user_id.startsWith(' } }, /^invalid configuration:\n {2}webhooks\.endpoints\.bad\.filter\.expression: /],
    [{ secret: undefined, secret_file: '/nonexistent/webhook.secret' }, /^invalid configuration:\n {2}webhooks\.endpoints\.bad\.secret_file: cannot read \/nonexistent\/webhook\.secret/],
  ];
  for (const [fields, message] of cases) {
    await assert.rejects(startServer({ webhooks: { endpoints: { bad: { ...endpoint, ...fields } as never } } }), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, message);
      return true;
    });
  }
});

test('declared webhooks: made at start, updated in place when changed, paused when removed', async () => {
  const storage = { path: path.join(mkdtempSync(path.join(tmpdir(), 'webhooks-config-')), 'audit.db') };
  const secretFile = path.join(path.dirname(storage.path), 'secret');
  writeFileSync(secretFile, `${SECRET}\n`);
  const first = await WebhookReceiver.start(SECRET);
  const second = await WebhookReceiver.start(SECRET);
  const declared = (url: string) => ({ url, secret_file: secretFile, filter: { event_types: ['CALL_CREATED'] }, batch_size: 7, timeout: '2s' });
  try {
    let server = await startServer({ storage, webhooks: { defaults: fastWebhooks(), endpoints: { audit: declared(first.url) } } });
    let hooks = webhookApi(server.client);
    const [made] = (await hooks.list()).webhooks;
    assert.deepEqual([made?.name, made?.owner, made?.declaredInConfig, made?.roles, made?.batchSize, made?.timeoutMs], ['audit', 'config', true, ['admin'], 7, 2000]);
    assert.deepEqual(made?.filter?.eventTypes, [EventType.EVENT_TYPE_CALL_CREATED]);
    const { sequence: one } = await publish(server.client, makeEvent({ type: EventType.EVENT_TYPE_CALL_CREATED }));
    await first.until('the first event', () => first.arrivals().includes(one));
    assert.ok(first.received.every((r) => r.verified), 'signed with the secret from secret_file');
    await assert.rejects(hooks.delete('audit'), (err: any) => err.code === status.FAILED_PRECONDITION && /declared in the configuration/.test(err.details));
    await waitFor('the cursor to pass the event', async () => (await hooks.status('audit')).cursor >= one);
    await server.close();

    server = await startServer({ storage, webhooks: { defaults: fastWebhooks(), endpoints: { audit: declared(second.url) } } });
    hooks = webhookApi(server.client);
    const [changed] = (await hooks.list()).webhooks;
    assert.deepEqual([changed?.id, changed?.url, changed?.status?.cursor], [made?.id, second.url, one], 'same webhook, same cursor');
    const { sequence: two } = await publish(server.client, makeEvent({ type: EventType.EVENT_TYPE_CALL_CREATED }));
    await second.until('the next event at the new URL', () => second.arrivals().includes(two));
    assert.deepEqual(second.arrivals(), [two], 'what was delivered before the change is not sent again');
    await server.close();

    server = await startServer({ storage, webhooks: { defaults: fastWebhooks() } });
    hooks = webhookApi(server.client);
    const [removed] = (await hooks.list()).webhooks;
    assert.deepEqual([removed?.paused, removed?.pausedReason], [true, 'no longer in the configuration']);
    await hooks.create({ name: 'witness', url: first.url, secret: SECRET });
    const { sequence: three } = await publish(server.client, makeEvent({ type: EventType.EVENT_TYPE_CALL_CREATED }));
    await first.until('the witness to get the next event', () => first.arrivals().includes(three));
    assert.deepEqual(second.arrivals(), [two], 'a webhook paused in the store stays paused after a restart');
    assert.equal((await hooks.delete('audit')).deadLettersRemoved, 0);
    assert.deepEqual((await hooks.list()).webhooks.map((w) => w.name), ['witness']);
    await server.close();
  } finally {
    await first.close();
    await second.close();
  }
});

test('a declared name taken by a webhook made with CreateWebhook stops the start', async () => {
  const storage = { path: path.join(mkdtempSync(path.join(tmpdir(), 'webhooks-config-')), 'audit.db') };
  let server = await startServer({ storage });
  const { webhook } = await webhookApi(server.client).create({ name: 'siem', url: 'http://127.0.0.1:9/x' });
  await server.close();
  await assert.rejects(startServer({ storage, webhooks: { endpoints: { siem: { url: 'http://127.0.0.1:9/y', secret: SECRET } } } }),
    new RegExp(`webhooks\\.endpoints\\.siem: the name is taken by a webhook made with CreateWebhook \\(id ${webhook?.id}\\); rename one of them`));
  server = await startServer({ storage });
  assert.deepEqual((await webhookApi(server.client).list()).webhooks.map((w) => w.url), ['http://127.0.0.1:9/x'], 'nothing changed');
  await server.close();
});

test('storage.type memory: webhooks work, kept in memory', async () => {
  const receiver = await WebhookReceiver.start(SECRET);
  const server = await startServer({ storage: { type: 'memory' }, webhooks: { defaults: fastWebhooks(), endpoints: { mem: { url: receiver.url, secret: SECRET } } } });
  try {
    const { sequence } = await publish(server.client, makeEvent());
    await receiver.until('the event', () => receiver.arrivals().includes(sequence));
    assert.deepEqual(receiver.arrivals(), [sequence]);
  } finally {
    await server.close();
    await receiver.close();
  }
});
