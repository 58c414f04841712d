/**
 * Server reflection as grpcurl, grpcui, Postman, evans and `buf curl` use it: the descriptors served are
 * buf's own (real file names, the proto's field names with their json_name, imports, comments), and
 * every grpcurl line of the README runs through a client that knows nothing but what reflection says.
 */
import assert from '../support/assert.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { status, type ServiceError } from '@grpc/grpc-js';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema, FileDescriptorSetSchema, type DescriptorProto, type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { grpcurlCommands, type GrpcurlCommand } from '../support/grpcurl.js';
import { KafkaTestBroker, ErrorCode } from '../support/kafka-broker/index.js';
import { deadLetterApi, fastKafka, forwardedThrough } from '../support/kafka-sink.js';
import { DynamicClient, ReflectionClient, type ReflectionVersion } from '../support/reflection-client.js';
import { makeEvent, publish, startServer, StreamReader, type TestServer } from '../support/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const AUDIT_FILES = ['audit/v1/audit_service.proto', 'audit/v1/event.proto', 'google/protobuf/struct.proto', 'google/protobuf/timestamp.proto'];

/**
 * What `buf build` makes of proto/ (or of `input`) right now, as `make proto` runs it: not the committed
 * copy, so a stale one fails here too, not only in `make proto-check`.
 */
async function freshBufBuild(...input: string[]): Promise<Map<string, FileDescriptorProto>> {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-buf-')), 'descriptor.binpb');
  await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/buf'), ['build', ...input, '--as-file-descriptor-set', '-o', out], { cwd: ROOT });
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(out));
  return new Map(set.file.map((f) => [f.name, f]));
}

const decode = (b: Buffer): FileDescriptorProto => fromBinary(FileDescriptorProtoSchema, b);

function message(file: FileDescriptorProto, name: string): DescriptorProto {
  const found = file.messageType.find((m) => m.name === name);
  assert.ok(found, `${file.name} describes ${name}`);
  return found;
}

/** [name, json_name] of each field of a message. */
function fieldNames(file: FileDescriptorProto, name: string): Array<[string, string]> {
  return message(file, name).field.map((f) => [f.name, f.jsonName]);
}

describe('server reflection', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });

  for (const version of ['v1', 'v1alpha'] satisfies ReflectionVersion[]) {
    test(`grpc.reflection.${version} serves exactly what buf build makes of proto/`, async () => {
      const [fresh, reflection] = [await freshBufBuild(), new ReflectionClient(server.address, version)];
      try {
        const served = (await reflection.fileContainingSymbol('audit.v1.AuditService')).map(decode);
        assert.equal(served[0].name, 'audit/v1/audit_service.proto', 'the file declaring the service comes first');
        assert.deepEqual(served.map((f) => f.name).sort(), AUDIT_FILES, 'the real file names, with every import');
        assert.deepEqual([...fresh.keys()].sort(), AUDIT_FILES);
        for (const file of served) {
          const built = fresh.get(file.name)!;
          // The parts a dynamic client reads first, for a readable failure; then everything (comments included).
          assert.equal(file.package, built.package, `${file.name}: package`);
          assert.deepEqual(file.dependency, built.dependency, `${file.name}: imports`);
          assert.deepEqual(file.messageType.map((m) => [m.name, m.field.map((f) => [f.name, f.jsonName, f.number])]),
            built.messageType.map((m) => [m.name, m.field.map((f) => [f.name, f.jsonName, f.number])]),
            `${file.name}: messages and fields differ from buf build (run make proto)`);
          assert.deepEqual(toJson(FileDescriptorProtoSchema, file), toJson(FileDescriptorProtoSchema, built),
            `${file.name}: the served descriptor differs from buf build (run make proto)`);
        }
        // Each file also by its own name, as clients ask for imports.
        for (const name of AUDIT_FILES) {
          const [first] = (await reflection.fileByFilename(name)).map(decode);
          assert.deepEqual(toJson(FileDescriptorProtoSchema, first), toJson(FileDescriptorProtoSchema, fresh.get(name)!), name);
        }
        await assert.rejects(reflection.fileByFilename('audit_v1.proto'), /not found/, 'no synthesized file any more');
      } finally {
        reflection.close();
      }
    });
  }

  test('the fields carry the proto names the README uses, with their JSON names, and the comments', async () => {
    const reflection = new ReflectionClient(server.address);
    try {
      const { files } = await reflection.filesFor('audit.v1.AuditService');
      const service = files.get('audit/v1/audit_service.proto')!;
      const event = files.get('audit/v1/event.proto')!;
      assert.equal(service.package, 'audit.v1');
      assert.deepEqual(fieldNames(event, 'AuditEvent').find(([n]) => n === 'user_id'), ['user_id', 'userId']);
      assert.deepEqual(fieldNames(service, 'Filter').filter(([n]) => ['min_severity', 'event_types', 'entity_ids'].includes(n)),
        [['event_types', 'eventTypes'], ['min_severity', 'minSeverity'], ['entity_ids', 'entityIds']]);
      assert.deepEqual(fieldNames(service, 'UnsubscribeRequest'), [['subscription_id', 'subscriptionId']]);
      assert.deepEqual(fieldNames(service, 'QueryRequest').at(-1), ['page_token', 'pageToken']);
      const afterSequence = message(service, 'SubscribeRequest').field.find((f) => f.name === 'after_sequence');
      assert.equal(afterSequence?.proto3Optional, true, 'optional stays optional (not a real oneof)');
      const comments = (service.sourceCodeInfo?.location ?? []).map((l) => l.leadingComments).join('');
      assert.match(comments, /Publish audit events and subscribe to them/, 'comments are served (grpcurl describe shows them)');
    } finally {
      reflection.close();
    }
  });

  test('list shows the audit and health services; health is described by buf build of its proto', async () => {
    const client = new DynamicClient(server.address);
    try {
      const services = await client.reflect.listServices();
      assert.deepEqual(services.sort(), ['audit.v1.AuditService', 'grpc.health.v1.Health']);
      const check = await client.call('grpc.health.v1.Health/Check', '{"service":"audit.v1.AuditService"}');
      assert.deepEqual(check.responses, [{ status: 'SERVING' }]);
      const served = (await client.reflect.fileContainingSymbol('grpc.health.v1.Health')).map(decode);
      const fresh = await freshBufBuild('node_modules/grpc-health-check/proto');
      assert.deepEqual(served.map((f) => f.name), ['health/v1/health.proto']);
      assert.deepEqual(toJson(FileDescriptorProtoSchema, served[0]), toJson(FileDescriptorProtoSchema, fresh.get('health/v1/health.proto')!),
        'the served health descriptor differs from buf build (run make proto)');
      assert.deepEqual(fieldNames(served[0], 'HealthCheckRequest'), [['service', 'service']]);
    } finally {
      client.close();
    }
  });

  test('JSON is parsed as protobuf JSON does: proto names and JSON names alike, unknown names refused', async () => {
    const client = new DynamicClient(server.address);
    try {
      for (const body of ['{"subscription_id":"nope"}', '{"subscriptionId":"nope"}']) {
        await assert.rejects(client.call('audit.v1.AuditService/Unsubscribe', body), (e: ServiceError) => e.code === status.NOT_FOUND, body);
      }
      await assert.rejects(client.call('audit.v1.AuditService/Unsubscribe', '{"subscription":"x"}'), /subscription/);
    } finally {
      client.close();
    }
  });
});

describe('every grpcurl line of the README', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const commands = grpcurlCommands(readme);
  let broker: KafkaTestBroker;
  let server: TestServer;
  // What the placeholders stand for: a subscription that is open, a page token of two dead letters.
  let reader: StreamReader;
  let client: DynamicClient;
  const placeholders: Record<string, string> = {};
  beforeAll(async () => {
    broker = await KafkaTestBroker.start({ partitions: 1 });
    // Kafka on: the dead letter lines answer FAILED_PRECONDITION without it.
    server = await startServer({ kafka: fastKafka(broker, { topic_prefix: 'readme' }) });
    reader = StreamReader.open(server.client, {});
    client = new DynamicClient(server.address);
    const { subscriptionId } = await reader.started();
    for (const entityId of ['dead-1', 'dead-2']) {
      broker.failNext({ apiKey: 'Produce', errorCode: ErrorCode.MESSAGE_TOO_LARGE, times: 1, topic: 'readme.calls' });
      const stored = await publish(server.client, makeEvent({ entityId }));
      await forwardedThrough(server, stored.sequence);
    }
    const page = await deadLetterApi(server.client).list({ limit: 1 });
    assert.notEqual(page.nextPageToken, '', 'two dead letters make a second page');
    Object.assign(placeholders, { id: subscriptionId, next_page_token: page.nextPageToken });
  });
  afterAll(async () => {
    reader?.cancel();
    client?.close();
    await server?.close();
    await broker?.stop();
  });

  test('runs through a reflection-driven client and succeeds', () => {
    assert.ok(commands.length > 0, 'the README has grpcurl lines');
    assert.equal(commands.length, readme.split('\n').filter((l) => l.startsWith('grpcurl')).length, 'every grpcurl line is parsed');
  });

  // One test a line, in the README's order (node:test ran them as subtests of the one above).
  for (const command of commands) {
    test(`line ${command.line}: ${command.verb} ${command.target ?? ''} ${command.data ?? ''}`, () =>
      runCommand(client, command, placeholders));
  }
});

/** Fills `<name>` placeholders of a request body with JSON string content. */
function substitute(data: string, placeholders: Record<string, string>): string {
  return data.replace(/<(\w+)>/g, (whole, name: string) => {
    if (!(name in placeholders)) throw new Error(`the test has no value for the placeholder ${whole}`);
    return JSON.stringify(placeholders[name]).slice(1, -1);
  });
}

async function runCommand(client: DynamicClient, command: GrpcurlCommand, placeholders: Record<string, string>): Promise<void> {
  assert.ok(command.plaintext, 'the default server listens without TLS: grpcurl needs -plaintext');
  assert.match(command.address, /^[\w.-]+:\d+$/, 'host:port');
  switch (command.verb) {
    case 'list': {
      const services = await client.reflect.listServices();
      assert.ok(services.includes('audit.v1.AuditService'), services.join(', '));
      if (command.target) assert.ok(services.includes(command.target), `${command.target} is listed`);
      return;
    }
    case 'describe': {
      const registry = await client.reflect.registryFor(command.target!);
      assert.ok(registry.get(command.target!), `reflection describes ${command.target}`);
      return;
    }
    case 'call': {
      // grpcurl without -d sends an empty message.
      const body = substitute(command.data ?? '{}', placeholders);
      // Subscribe stays open: like a user watching grpcurl, take the first message, then cancel.
      const firstOnly = command.target === 'audit.v1.AuditService/Subscribe';
      const { responses } = await client.call(command.target!, body, { firstOnly });
      assert.ok(responses.length > 0, 'at least one response');
      if (firstOnly) assert.ok((responses[0] as { started?: unknown }).started, 'Subscribe starts with `started`');
    }
  }
}
