import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { after, before, describe, test } from 'node:test';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { filterOf, makeEvent, startServer, StreamReader, type TestServer } from '../support/server.js';

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

describe('bad input gets the right status and a message naming the problem', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ audit: { publisher: { max_metadata_bytes: 1024 } } });
  });
  after(() => server.close());

  const publishCases: Array<[string, Parameters<typeof makeEvent>[0], string, RegExp]> = [
    ['missing type', { type: EventType.EVENT_TYPE_UNSPECIFIED }, 'event.type', /event\.type: is required/],
    ['unknown event type', { type: 999 as EventType }, 'event.type', /unknown event type 999/],
    ['unknown severity', { severity: 42 as Severity }, 'event.severity', /unknown severity 42/],
    ['bad UUID', { id: 'not-a-uuid' }, 'event.id', /"not-a-uuid" is not a UUID/],
    ['missing action', { action: '' }, 'event.action', /event\.action: is required/],
    ['metadata over the size limit', { metadata: { blob: 'x'.repeat(2000) } }, 'event.metadata', /event\.metadata: is \d+ bytes as JSON, the limit is 1024/],
    ['over-long string', { userId: 'u'.repeat(300) }, 'event.user_id', /event\.user_id: is 300 characters, the limit is 256/],
  ];
  for (const [name, fields, field, message] of publishCases) {
    test(`Publish: ${name}`, async () => {
      const err = await rejection(server.api.publish({ event: makeEvent(fields) }));
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, message);
      assert.equal(err.metadata.get('invalid-field')[0], field);
    });
  }

  test('Publish: no event at all', async () => {
    const err = await rejection(server.api.publish({ event: undefined }));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /^event: is required/);
  });

  const subscribeCases: Array<[string, Parameters<typeof StreamReader.open>[1], RegExp]> = [
    ['bad CEL', { filter: filterOf({ expression: 'event.type ==' }) }, /filter\.expression: invalid CEL expression/],
    ['CEL that is not boolean', { filter: filterOf({ expression: '1 + 2' }) }, /filter\.expression: .*must evaluate to bool/],
    ['CEL over an unknown variable', { filter: filterOf({ expression: 'user.id == "x"' }) }, /filter\.expression: .*Unknown variable: user/],
    ['unknown event type in the filter', { filter: filterOf({ eventTypes: [EventType.EVENT_TYPE_CALL_CREATED, 777 as EventType] }) }, /filter\.event_types\[1\]: unknown event type 777/],
    ['time range backwards', { filter: filterOf({ timeRange: { start: new Date(2000), end: new Date(1000) } }) }, /filter\.time_range: start is after end/],
    ['after_sequence beyond the log', { afterSequence: 1_000_000 }, /after_sequence: 1000000 is beyond the last stored sequence/],
  ];
  for (const [name, request, message] of subscribeCases) {
    test(`Subscribe: ${name}`, async () => {
      const reader = StreamReader.open(server.client, request);
      const result = await reader.ended();
      assert.notEqual(result, 'OK');
      assert.equal((result as ServiceError).code, status.INVALID_ARGUMENT);
      assert.match((result as ServiceError).details, message);
      assert.equal(reader.messages.length, 0);
    });
  }

  test('unknown subscription id: NOT_FOUND on Unsubscribe and GetSubscriptionStats', async () => {
    for (const call of [server.api.unsubscribe('nope'), server.api.subscriptionStats('nope')]) {
      const err = await rejection(call);
      assert.equal(err.code, status.NOT_FOUND);
      assert.match(err.details, /subscription_id: no active subscription "nope"/);
    }
  });

  test('rejected publishes are counted and nothing was stored', async () => {
    const stats = await server.api.getStats();
    assert.equal(stats.eventsPublished, 0);
    assert.ok(stats.eventsFailed >= publishCases.length + 1);
  });
});
