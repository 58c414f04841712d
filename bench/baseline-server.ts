/**
 * The bare grpc-js baseline the suite compares auditstream with: the same proto (the generated
 * AuditServiceService definition and serializers), Publish/PublishBatch/Subscribe only, no storage, no
 * filtering. The events of one Publish or PublishBatch call go to every open Subscribe stream as one
 * SubscribeResponse (an EventBatch of at most BATCH_SIZE events, auditstream's default
 * audit.subscriber.batch_size), and a stream whose write() returned false gets nothing more until
 * 'drain': what arrives meanwhile waits in that stream's queue, in order, and then goes out in batches
 * of up to BATCH_SIZE, as auditstream's pump coalesces a busy stream's events. Publish answers after
 * the events were handed to every stream. Every other RPC is UNIMPLEMENTED (grpc-js's default).
 *
 * Why batches and not one SubscribeResponse per event: a grpc-js server stream has one message in
 * flight at a time (the next goes once the HTTP/2 layer took the previous one) and reports 'drain'
 * only when its buffer of 16 messages is empty, so with the publisher sharing the machine's two cores
 * per-event messages to 10 streams drained barely faster than 1,000 events/s arrived. Measured that
 * way on a quiet machine: at 1,000 events/s the queues grew to 650 events per stream during the cold
 * first second and took until 2.3 s to drain (p99 0.3 to 0.6 s over a 3 s run; seconds when anything
 * else ran), and at 5,000 events/s they never drained (p50 2 to 3 s). That was grpc-js's cost per
 * message, not what a bare server can do.
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

/** Events per SubscribeResponse at most: auditstream's default audit.subscriber.batch_size. */
const BATCH_SIZE = 100;

/** One open Subscribe stream and the events that wait for its 'drain'. */
class Stream {
  private waiting: AuditEvent[] = [];
  private paused = false;

  constructor(private readonly call: Call) {
    call.on('drain', () => this.flush());
  }

  send(events: AuditEvent[]): void {
    for (const event of events) this.waiting.push(event);
    if (!this.paused) this.flush();
  }

  private flush(): void {
    this.paused = false;
    let sent = 0;
    while (sent < this.waiting.length && !this.paused) {
      const batch = this.waiting.slice(sent, sent + BATCH_SIZE);
      sent += batch.length;
      this.paused = !this.call.write({ kind: { $case: 'events', events: { events: batch } } });
    }
    this.waiting = sent === this.waiting.length ? [] : this.waiting.slice(sent);
  }
}

const streams = new Set<Stream>();
let sequence = 0;

function stamp(event: AuditEvent): PublishResponse {
  event.sequence = ++sequence;
  if (!event.id) event.id = randomUUID();
  return { eventId: event.id, sequence: event.sequence, duplicate: false, cursor: String(event.sequence) };
}

function fanOut(events: AuditEvent[]): void {
  for (const stream of streams) stream.send(events);
}

const implementation: UntypedServiceImplementation = {
  publish(call: ServerUnaryCall<PublishRequest, PublishResponse>, callback: sendUnaryData<PublishResponse>) {
    const { event } = call.request;
    if (!event) return callback({ code: 3, details: 'event: is required' });
    const stored = stamp(event);
    fanOut([event]);
    callback(null, stored);
  },
  publishBatch(call: ServerUnaryCall<PublishBatchRequest, PublishBatchResponse>, callback: sendUnaryData<PublishBatchResponse>) {
    const results = call.request.events.map((event) => {
      const stored = stamp(event);
      return { eventId: stored.eventId, outcome: { $case: 'stored' as const, stored } };
    });
    fanOut(call.request.events);
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
