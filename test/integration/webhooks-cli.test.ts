/** `auditstream webhooks ...` as a process against a running server and a real receiver. */
import assert from '../support/assert.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { cli } from '../support/cli.js';
import { makeEvent, publish, waitFor, withServer } from '../support/server.js';
import { fastWebhooks, WebhookReceiver, webhookApi } from '../support/webhook-receiver.js';

const SECRET = 'cli-secret-0123456789abcdef';

test('webhooks: create, list, pause, resume, dead-letters, redrive, delete', () =>
  withServer({ storage: { type: 'memory' }, webhooks: { defaults: fastWebhooks({ max_retries: 1, circuit_breaker: { threshold: 100, half_open_after: 100 } }) } }, async (server) => {
    const receiver = await WebhookReceiver.start(SECRET);
    const at = ['--server', server.address];
    try {
      const secretFile = path.join(mkdtempSync(path.join(tmpdir(), 'webhooks-cli-')), 'secret');
      writeFileSync(secretFile, `${SECRET}\n`);
      const created = await cli(['webhooks', 'create', 'siem', receiver.url, '--secret-file', secretFile, '--type', 'CALL_CREATED', '--batch-size', '3', ...at, '--json']);
      assert.equal(created.code, 0, created.stderr);
      const made = JSON.parse(created.stdout);
      assert.deepEqual([made.webhook.name, made.webhook.batchSize, made.webhook.filter.eventTypes, made.secret], ['siem', 3, ['EVENT_TYPE_CALL_CREATED'], undefined]);

      const drawn = await cli(['webhooks', 'create', 'drawn', receiver.url, ...at]);
      assert.equal(drawn.code, 0, drawn.stderr);
      assert.match(drawn.stdout, /^created drawn {2}[0-9a-f-]{36}\nsecret: whsec_[A-Za-z0-9_-]{43}\n$/);
      assert.match(drawn.stderr, /shown this once/);
      const usage = await cli(['webhooks', 'create', 'x', receiver.url, '--secret', SECRET, '--secret-file', secretFile, ...at]);
      assert.deepEqual([usage.code, usage.stderr.trim()], [2, 'webhooks create: give --secret or --secret-file, not both']);
      const invalid = await cli(['webhooks', 'create', 'bad name', receiver.url, ...at]);
      assert.equal(invalid.code, 2, 'INVALID_ARGUMENT is a usage error');
      assert.match(invalid.stderr, /^auditstream: INVALID_ARGUMENT: name: must be 1 to 100 letters/);

      const { sequence } = await publish(server.client, makeEvent());
      await receiver.until('the event', () => receiver.arrivals().includes(sequence));
      const listed = await cli(['webhooks', ...at]);
      assert.equal(listed.code, 0, listed.stderr);
      const [header, ...rows] = listed.stdout.trim().split('\n');
      assert.match(header!, /^NAME\s+ID\s+STATE\s+CIRCUIT\s+SENT\s+FAILED\s+LAG\s+DEAD\s+URL$/);
      assert.deepEqual(rows.map((r) => r.split(/\s+/)[0]), ['drawn', 'siem']);

      const paused = await cli(['webhooks', 'pause', 'siem', ...at]);
      assert.deepEqual([paused.code, paused.stdout], [0, 'siem paused\n']);
      const listedPaused = await cli(['webhooks', 'list', ...at]);
      assert.match(listedPaused.stderr, /^siem: paused by local$/m);
      assert.deepEqual((await cli(['webhooks', 'resume', 'siem', ...at])).stdout, 'siem active\n');

      await cli(['webhooks', 'delete', 'drawn', ...at]);
      receiver.behave = () => ({ kind: 'status', status: 503 });
      const { sequence: refused } = await publish(server.client, makeEvent());
      const hooks = webhookApi(server.client);
      await waitFor('a dead letter', async () => (await hooks.status('siem')).deadLetters === 1);
      const letters = await cli(['webhooks', 'dead-letters', 'siem', ...at]);
      assert.equal(letters.code, 0, letters.stderr);
      assert.match(letters.stdout, new RegExp(`^${refused} {2}[0-9a-f-]{36} {2}HTTP 503 {2}attempts=2 `));
      assert.match(letters.stderr, /1 shown, 1 dead letters in all/);
      const failed = await cli(['webhooks', 'redrive', 'siem', '--all', ...at]);
      assert.deepEqual([failed.code, failed.stdout.split('  ').slice(0, 2)], [1, [String(refused), 'FAILED']]);
      receiver.behave = () => ({ kind: 'ok' });
      const redriven = await cli(['webhooks', 'redrive', 'siem', String(refused), ...at, '--json']);
      assert.equal(redriven.code, 0, redriven.stderr);
      assert.equal(JSON.parse(redriven.stdout).outcome, 'DELIVERED');
      assert.match(redriven.stderr, /delivered 1 of 1; 0 dead letters remain/);
      const deleted = await cli(['webhooks', 'delete', 'siem', ...at]);
      assert.deepEqual([deleted.code, deleted.stdout], [0, 'deleted siem\n']);
      assert.deepEqual((await cli(['webhooks', ...at])).stdout, 'no webhooks\n');
      const missing = await cli(['webhooks', 'pause', 'siem', ...at]);
      assert.deepEqual([missing.code, missing.stderr.trim()], [1, 'auditstream: NOT_FOUND: webhook: no webhook has the id or name "siem"']);
    } finally {
      await receiver.close();
    }
  }));
