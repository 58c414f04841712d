/** `auditstream dead-letters` as a process, against a server forwarding to the wire-protocol test broker. */
import assert from '../support/assert.js';
import { afterAll, beforeAll, test } from '@jest/globals';
import { ErrorCode, KafkaTestBroker } from '../support/kafka-broker/index.js';
import { fastKafka, forwardedThrough } from '../support/kafka-sink.js';
import { makeEvent, publish, withServer } from '../support/server.js';
import { cli } from '../support/cli.js';



let broker: KafkaTestBroker;
beforeAll(async () => {
  broker = await KafkaTestBroker.start({ partitions: 1 });
});
afterAll(async () => {
  await broker.stop();
});

test('dead-letters: list (text and JSON), redrive refuses doing nothing by accident, reports each outcome', () =>
  withServer({ storage: { type: 'memory' }, kafka: fastKafka(broker, { topic_prefix: 'clidlq' }) }, async (server) => {
    await forwardedThrough(server, (await publish(server.client, makeEvent({ entityId: 'ok' }))).sequence);
    broker.failNext({ apiKey: 'Produce', errorCode: ErrorCode.MESSAGE_TOO_LARGE, times: 1, topic: 'clidlq.calls' });
    const bad = await publish(server.client, makeEvent({ entityId: 'too-big' }));
    await forwardedThrough(server, bad.sequence);
    const at = ['--server', server.address];

    const listed = await cli(['dead-letters', ...at, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const letters = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(letters.map((l) => [l.sequence, l.eventId, l.topic, l.reason, l.event.entityId]), [[bad.sequence, bad.eventId, 'clidlq.calls', 'MESSAGE_TOO_LARGE', 'too-big']]);
    const text = await cli(['dead-letters', 'list', ...at]);
    assert.match(text.stdout, new RegExp(`^${bad.sequence} {2}${bad.eventId} {2}clidlq\\.calls {2}MESSAGE_TOO_LARGE {2}attempts=1 `));
    assert.match(text.stderr, /1 shown, 1 dead letters in all/);

    const nothing = await cli(['dead-letters', 'redrive', ...at]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /give the sequences to redrive, or --all/);
    const unknown = await cli(['dead-letters', 'redrive', '999', ...at, '--json']);
    assert.equal(unknown.code, 1, 'a letter not delivered');
    assert.deepEqual(JSON.parse(unknown.stdout), { sequence: 999, eventId: '', outcome: 'NOT_FOUND', reason: '' });

    const redriven = await cli(['dead-letters', 'redrive', '--all', ...at]);
    assert.equal(redriven.code, 0, redriven.stderr);
    assert.equal(redriven.stdout, `${bad.sequence}  DELIVERED  ${bad.eventId}\n`);
    assert.match(redriven.stderr, /delivered 1 of 1; 0 dead letters remain/);
    const empty = await cli(['dead-letters', ...at, '--json']);
    assert.deepEqual([empty.code, empty.stdout], [0, '']);
  }));

test('dead-letters with Kafka off: FAILED_PRECONDITION, exit 1', () =>
  withServer({ storage: { type: 'memory' } }, async (server) => {
    const r = await cli(['dead-letters', '--server', server.address]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^auditstream: FAILED_PRECONDITION: kafka\.enabled is false/);
  }));
