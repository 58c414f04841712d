/**
 * Bench worker: a process holding `subscriptions` Subscribe streams (match-all filter) spread over
 * `channels` gRPC channels, each channel its own HTTP/2 connection. Responses are read with the
 * minimal wire reader (bench/support/wire.ts), not decoded into objects.
 * Commands (IPC): open {address, subscriptions, channels, latency, warmupIndex}; expect {perSubscription};
 * collect; close. Replies: ready (every stream has its `started`), progress (every 500 ms), done.
 */
import { Client, credentials, Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { SubscribeRequest } from '../../generated/audit/v1/audit_service.js';
import { parseStamp } from '../support/events.js';
import { monoMicros } from '../support/stats.js';
import { scanSubscribeResponse } from '../support/wire.js';
import { reply, serveParent } from '../support/worker-ipc.js';

const SUBSCRIBE = '/audit.v1.AuditService/Subscribe';

interface Sub {
  delivered: number;
  lastSequence: number;
  started: boolean;
}

const clients: Client[] = [];
const calls: Array<ClientReadableStream<Buffer>> = [];
const subs: Sub[] = [];
let started = 0;
let delivered = 0;
let outOfOrder = 0;
let streamErrors = 0;
let errorSample = '';
let lastReceiveUs = 0;
let expected = Infinity;
let complete = 0;
let reportedDone = false;
let closing = false;
let latency = false;
let warmupIndex = 0;
const latenciesUs: number[] = [];

function finish(isComplete: boolean): void {
  reportedDone = true;
  let min = Infinity;
  let max = 0;
  for (const s of subs) {
    min = Math.min(min, s.delivered);
    max = Math.max(max, s.delivered);
  }
  reply({
    type: 'done', complete: isComplete, subscriptions: subs.length, delivered, minPerSubscription: min, maxPerSubscription: max,
    outOfOrder, streamErrors, errorSample, lastReceiveUs, latenciesUs: latency ? latenciesUs : [],
  });
}

function open(address: string, count: number, channels: number): void {
  for (let c = 0; c < channels; c++) {
    clients.push(new Client(address, credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    }));
  }
  const request = Buffer.from(SubscribeRequest.encode(SubscribeRequest.fromPartial({ clientName: 'bench' })).finish());
  for (let i = 0; i < count; i++) {
    const sub: Sub = { delivered: 0, lastSequence: 0, started: false };
    subs.push(sub);
    const call = clients[i % channels].makeServerStreamRequest<Buffer, Buffer>(
      SUBSCRIBE, (b) => b, (b) => b, request, new Metadata(), {},
    );
    calls.push(call);
    call.on('data', (buf: Buffer) => {
      const now = monoMicros();
      const { kind, events } = scanSubscribeResponse(buf, (correlation, sequence) => {
        if (sequence !== 0) {
          if (sequence <= sub.lastSequence) outOfOrder++;
          sub.lastSequence = sequence;
        }
        if (latency) {
          const stamp = parseStamp(correlation);
          if (stamp && stamp.index >= warmupIndex) latenciesUs.push(now - stamp.sentUs);
        }
      });
      if (kind === 'started' && !sub.started) {
        sub.started = true;
        if (++started === count) reply({ type: 'ready', subscriptions: count });
      } else if (events > 0) {
        const before = sub.delivered;
        sub.delivered += events;
        delivered += events;
        lastReceiveUs = now;
        if (before < expected && sub.delivered >= expected && ++complete === subs.length && !reportedDone) finish(true);
      }
    });
    call.on('error', (err: Error & { code?: number }) => {
      if (closing || err.code === 1) return; // CANCELLED by us
      streamErrors++;
      errorSample ||= err.message;
    });
  }
}

serveParent((m) => {
  if (m.type === 'open') {
    latency = m.latency === true;
    warmupIndex = Number(m.warmupIndex ?? 0);
    open(String(m.address), Number(m.subscriptions), Math.max(1, Math.min(Number(m.channels), Number(m.subscriptions))));
    setInterval(() => reply({ type: 'progress', delivered, started, streamErrors }), 500).unref();
  } else if (m.type === 'expect') {
    expected = Number(m.perSubscription);
    complete = subs.filter((s) => s.delivered >= expected).length;
    if (complete === subs.length && !reportedDone) finish(true);
  } else if (m.type === 'collect') {
    if (!reportedDone) finish(false);
  } else if (m.type === 'close') {
    closing = true;
    for (const call of calls) call.cancel();
    for (const client of clients) client.close();
    setTimeout(() => process.exit(0), 100);
  }
});
