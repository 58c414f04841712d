/**
 * The bare grpc-js baseline the suite compares auditstream with: the same proto (the generated
 * AuditServiceService definition and serializers), Publish/PublishBatch/Subscribe only, no storage, no
 * filtering, no batching. Each published event is written to every open Subscribe stream as its own
 * message (one SubscribeResponse per event); a stream whose write() returned false gets nothing more
 * until 'drain' (what arrives meanwhile waits in that stream's queue, in order). Publish answers after
 * the event was handed to every stream. Every other RPC is UNIMPLEMENTED (grpc-js's default).
 *
 * Run by the bench as a child process (IPC): it binds 127.0.0.1:0, reports {type:'ready', grpcPort},
 * answers {type:'memory'} with its memory after two full GCs, and exits on 'close', SIGTERM, or when
 * the bench goes away.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  AuditServiceService, type PublishBatchRequest, type PublishBatchResponse, type PublishRequest, type PublishResponse,
  type SubscribeRequest, type SubscribeResponse,
} from '../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../generated/audit/v1/event.js';
import { reply, serveParent } from './support/worker-ipc.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

type Call = ServerWritableStream<SubscribeRequest, SubscribeResponse>;

/** One open Subscribe stream and what waits for its 'drain'. */
class Stream {
  private readonly queue: SubscribeResponse[] = [];
  private head = 0;
  private paused = false;

  constructor(private readonly call: Call) {
    call.on('drain', () => this.flush());
  }

  send(message: SubscribeResponse): void {
    if (this.paused) this.queue.push(message);
    else if (!this.call.write(message)) this.paused = true;
  }

  private flush(): void {
    this.paused = false;
    while (this.head < this.queue.length) {
      const message = this.queue[this.head];
      this.queue[this.head++] = undefined as unknown as SubscribeResponse;
      if (!this.call.write(message)) {
        this.paused = true;
        break;
      }
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
  }
}

const streams = new Set<Stream>();
let sequence = 0;

function fanOut(event: AuditEvent): PublishResponse {
  event.sequence = ++sequence;
  if (!event.id) event.id = randomUUID();
  for (const stream of streams) stream.send({ kind: { $case: 'events', events: { events: [event] } } });
  return { eventId: event.id, sequence: event.sequence, duplicate: false, cursor: String(event.sequence) };
}

const implementation: UntypedServiceImplementation = {
  publish(call: ServerUnaryCall<PublishRequest, PublishResponse>, callback: sendUnaryData<PublishResponse>) {
    if (!call.request.event) return callback({ code: 3, details: 'event: is required' });
    callback(null, fanOut(call.request.event));
  },
  publishBatch(call: ServerUnaryCall<PublishBatchRequest, PublishBatchResponse>, callback: sendUnaryData<PublishBatchResponse>) {
    const results = call.request.events.map((event) => {
      const stored = fanOut(event);
      return { eventId: stored.eventId, outcome: { $case: 'stored' as const, stored } };
    });
    callback(null, { results, acceptedCount: results.length, rejectedCount: 0 });
  },
  subscribe(call: Call) {
    const stream = new Stream(call);
    streams.add(stream);
    const remove = (): void => {
      streams.delete(stream);
    };
    call.on('cancelled', remove);
    call.on('close', remove);
    call.on('error', remove);
    call.write({ kind: { $case: 'started', started: { subscriptionId: randomUUID(), cursor: sequence, resumeCursor: String(sequence) } } });
  },
};

const server = new Server({ 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
server.addService(AuditServiceService, implementation);

function shutdown(): void {
  server.forceShutdown();
  process.exit(0);
}

process.on('SIGTERM', shutdown);
serveParent((m) => {
  if (m.type === 'close') shutdown();
  else if (m.type === 'memory') {
    gc();
    gc();
    reply({ type: 'memory', memory: process.memoryUsage() });
  }
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  reply({ type: 'ready', grpcPort: port });
});
