import assert from '../support/assert.js';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { test } from '@jest/globals';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';
import { startServerProcess } from '../support/server-process.js';
import { api, makeEvent, StreamReader } from '../support/server.js';

test('the serve command shuts down gracefully on SIGTERM: streams end UNAVAILABLE, exit code 0', async () => {
  const server = await startServerProcess('logging:\n  level: info\n');
  const client = new AuditServiceClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure());
  try {
    const reader = StreamReader.open(client, {});
    await reader.started();
    const ack = await api(client).publish({ event: makeEvent() });
    await reader.eventsUntil(1);
    const exit = server.stop();
    const ended = await reader.ended();
    assert.ok(ended !== 'OK' && ended.code === status.UNAVAILABLE, `stream ended with ${JSON.stringify(ended)}`);
    assert.match((ended as ServiceError).details, /shutting down/);
    assert.equal(await exit, 0);
    assert.equal(reader.events[0].sequence, ack.sequence);
  } finally {
    client.close();
    server.child.kill('SIGKILL');
  }
});

test('a bad config file stops the serve command with exit code 2 and names the key', async () => {
  await assert.rejects(startServerProcess('audit:\n  publisher:\n    max_queue_depth: lots\n'), /exited with 2 before serving: invalid configuration:\n {2}audit\.publisher\.max_queue_depth: /);
});
