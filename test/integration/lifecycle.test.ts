import assert from '../support/assert.js';
import { credentials, loadPackageDefinition, makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from '@jest/globals';
import { GatedLog } from '../support/gated-log.js';
import { filterOf, publish, startServer, StreamReader, waitFor, within } from '../support/server.js';
import { toTimestamp } from '../../src/contract/time-mapping.js';

test('Unsubscribe ends the stream with OK and frees the subscription; stats report truly', async () => {
  const server = await startServer();
  try {
    const reader = StreamReader.open(server.client, { clientName: 'dashboard', filter: filterOf({ entityTypes: ['call'] }) });
    const { subscriptionId } = await reader.started();
    await publish(server.client, { entityType: 'call' });
    await publish(server.client, { entityType: 'bid' });
    await reader.eventsUntil(1);
    const info = (await server.api.subscriptionStats(subscriptionId)).subscription!;
    assert.equal(info.matched, 1);
    assert.equal(info.clientName, 'dashboard');
    assert.equal(info.transport, 'grpc');
    assert.deepEqual(info.filter?.entityTypes, ['call']);
    assert.ok(Math.abs(info.createdAt!.seconds * 1000 - Date.now()) < 60_000, 'created now');
    const list = await server.api.listSubscriptions();
    assert.deepEqual(list.subscriptions.map((s) => s.subscriptionId), [subscriptionId]);
    assert.equal((await server.api.getStats()).activeSubscriptions, 1);

    await server.api.unsubscribe(subscriptionId);
    assert.equal(await reader.ended(), 'OK');
    assert.equal((await server.api.getStats()).activeSubscriptions, 0);
    assert.deepEqual((await server.api.listSubscriptions()).subscriptions, []);
  } finally {
    await server.close();
  }
});

test('a client cancel frees the subscription', async () => {
  const server = await startServer();
  try {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    assert.equal((await server.api.getStats()).activeSubscriptions, 1);
    reader.cancel();
    await waitFor('the subscription to be freed', async () => (await server.api.getStats()).activeSubscriptions === 0);
  } finally {
    await server.close();
  }
});

test('heartbeats carry a resume cursor while no events flow', async () => {
  const server = await startServer({ audit: { subscriber: { heartbeat_interval: 50 } } });
  try {
    const ack = await publish(server.client, {});
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    const heartbeat = await reader.until('a heartbeat', () => reader.messages.find((m) => m.kind?.$case === 'heartbeat'));
    assert.ok(heartbeat.kind?.$case === 'heartbeat' && heartbeat.kind.heartbeat.cursor === ack.sequence);
    reader.cancel();
  } finally {
    await server.close();
  }
});

test('a time range ending soon completes the stream with OK when its end passes', async () => {
  const server = await startServer();
  try {
    // The event's own timestamp puts it inside the range; the stream must then end by itself once the
    // end passes (2 s: a wide margin for the publish to complete first, not a race).
    const end = new Date(Date.now() + 2_000);
    const reader = StreamReader.open(server.client, { filter: filterOf({ timeRange: { start: undefined, end: toTimestamp(end) } }) });
    await reader.started();
    await publish(server.client, { timestamp: toTimestamp(new Date(end.getTime() - 1_500)) });
    assert.equal(await reader.ended(), 'OK');
    assert.ok(Date.now() >= end.getTime());
    assert.equal(reader.events.length, 1);
  } finally {
    await server.close();
  }
});

test('health checking and server reflection answer a real client', async () => {
  const server = await startServer();
  try {
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(server.address, credentials.createInsecure()) as unknown as {
      check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
      close(): void;
    };
    for (const name of ['', 'audit.v1.AuditService']) {
      const res = await new Promise<{ status: string }>((resolve, reject) => health.check({ service: name }, (e, r) => (e ? reject(e) : resolve(r))));
      assert.equal(res.status, 'SERVING');
    }
    health.close();

    const protoDir = path.join(path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '../proto');
    const pkg = loadPackageDefinition(loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [protoDir] })) as any;
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(server.address, credentials.createInsecure());
    const call = reflection.ServerReflectionInfo();
    const answers: any[] = [];
    const done = new Promise<void>((resolve) => call.on('data', (m: any) => { answers.push(m); if (answers.length === 2) resolve(); }));
    call.write({ listServices: '' });
    call.write({ fileContainingSymbol: 'audit.v1.AuditService' });
    await within(done, 'two reflection answers');
    call.end();
    reflection.close();
    const services = answers[0].listServicesResponse.service.map((s: { name: string }) => s.name);
    assert.ok(services.includes('audit.v1.AuditService') && services.includes('grpc.health.v1.Health'), services.join(','));
    const files: Buffer[] = answers[1].fileDescriptorResponse.fileDescriptorProto;
    const descriptors = files.map((f) => f.toString('latin1')).join('');
    for (const name of ['AuditService', 'PublishBatchRequest', 'SubscribeResponse', 'GetSubscriptionStats']) {
      assert.ok(descriptors.includes(name), `reflection describes ${name}`);
    }
  } finally {
    await server.close();
  }
});

test('shutdown stores what is queued, delivers it, then ends streams with UNAVAILABLE', async () => {
  const log = new GatedLog();
  const server = await startServer({}, { eventLog: log });
  const reader = StreamReader.open(server.client, {});
  await reader.started();
  log.hold();
  const queued = [1, 2, 3].map((i) => publish(server.client, { entityId: `q${i}` }));
  await waitFor('the first append', () => log.appendCalls >= 1);
  const stopping = server.app.shutdown();
  const late = await publish(server.client, { entityId: 'late' }).then(() => undefined, (err: ServiceError) => err);
  assert.equal(late?.code, status.UNAVAILABLE);
  log.open();
  const acks = await Promise.all(queued);
  await stopping;
  assert.deepEqual((await reader.eventsUntil(3)).map((e) => e.sequence), acks.map((a) => a.sequence));
  const ended = await reader.ended();
  assert.ok(ended !== 'OK' && ended.code === status.UNAVAILABLE);
  server.client.close();
});
