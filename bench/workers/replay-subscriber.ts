/**
 * Bench worker for the replay scenario: ONE Subscribe stream that starts at the beginning of the log
 * (after_sequence 0, no filter: match-all), and the VerifyChain call, on one gRPC channel that is
 * connected before anything is timed, with the client library's 8 MiB flow-control window. Frames are read with the minimal wire reader
 * (bench/support/wire.ts) and every event's sequence is checked against 1, 2, 3...: a replay counts
 * only when each stored event arrived once, in order. Times are taken here, in the client process.
 * Commands (IPC): connect {address}; replay {expected}; verify; close.
 * Replies: ready; replayed {outcome, delivered, inOrder, ...}; verified {ok, checked, ...}.
 */
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { SubscribeRequest, VerifyChainRequest, VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import { scanSubscribeResponse } from '../support/wire.js';
import { reply, serveParent } from '../support/worker-ipc.js';

const SUBSCRIBE = '/audit.v1.AuditService/Subscribe';
const VERIFY_CHAIN = '/audit.v1.AuditService/VerifyChain';
/** A replay that delivers nothing for this long is reported as it stands (and does not count). */
const STALL_MS = 30_000;
/** VerifyChain of a large log runs for a while at today's speed (about 30 s per million events). */
const VERIFY_DEADLINE_MS = 10 * 60_000;

const identity = (b: Buffer): Buffer => b;
let client: Client | undefined;

function replay(expected: number): Promise<void> {
  const request = Buffer.from(SubscribeRequest.encode(SubscribeRequest.fromPartial({ afterSequence: 0, clientName: 'bench-replay' })).finish());
  return new Promise((resolve) => {
    let delivered = 0;
    let inOrder = 0;
    let nextSequence = 1;
    let firstDisorder = '';
    let firstEventMs = Number.NaN;
    let finished = false;
    const started = performance.now();
    let lastEventAt = started;
    const call = client!.makeServerStreamRequest<Buffer, Buffer>(SUBSCRIBE, identity, identity, request, new Metadata(), {});
    const finish = (outcome: string): void => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      call.cancel();
      reply({
        type: 'replayed', outcome, expected, delivered, inOrder, firstDisorder, firstEventMs,
        seconds: (lastEventAt - started) / 1000,
      });
      resolve();
    };
    call.on('data', (buf: Buffer) => {
      const { events } = scanSubscribeResponse(buf, (_correlation, sequence) => {
        if (sequence === nextSequence) inOrder++;
        else firstDisorder ||= `expected sequence ${nextSequence}, got ${sequence}`;
        nextSequence = sequence + 1;
      });
      if (events === 0) return; // started, heartbeat
      lastEventAt = performance.now();
      if (delivered === 0) firstEventMs = lastEventAt - started;
      delivered += events;
      if (delivered >= expected) finish('complete');
    });
    call.on('error', (err: ServiceError) => finish(`stream error ${err.code}: ${err.details}`));
    call.on('end', () => finish('the server ended the stream'));
    const watchdog = setInterval(() => {
      if (performance.now() - lastEventAt > STALL_MS) finish(`no event for ${STALL_MS / 1000} s`);
    }, 1_000);
  });
}

function verify(): Promise<void> {
  // Both bounds 0: from the oldest stored event to the newest.
  const request = Buffer.from(VerifyChainRequest.encode(VerifyChainRequest.fromPartial({})).finish());
  return new Promise((resolve, reject) => {
    const started = performance.now();
    client!.makeUnaryRequest(VERIFY_CHAIN, identity, identity, request, new Metadata(), { deadline: Date.now() + VERIFY_DEADLINE_MS }, (err, res) => {
      const seconds = (performance.now() - started) / 1000;
      if (err || !res) return reject(err ?? new Error('VerifyChain: no response'));
      const r = VerifyChainResponse.decode(res);
      reply({ type: 'verified', ok: r.ok, checked: r.checked, firstSequence: r.firstSequence, lastSequence: r.lastSequence, breakKind: r.firstBreak?.kind ?? '', seconds });
      resolve();
    });
  });
}

serveParent(async (m) => {
  if (m.type === 'connect') {
    // The client library's flow-control window (src/client/connection.ts): grpc-js's 64 KiB default
    // holds a replay to 64 KiB per round trip.
    client = new Client(String(m.address), credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc-node.flow_control_window': 8 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) =>
      client!.waitForReady(Date.now() + 20_000, (err) => (err ? reject(err) : resolve())));
    reply({ type: 'ready' });
  } else if (m.type === 'replay') await replay(Number(m.expected));
  else if (m.type === 'verify') await verify();
  else if (m.type === 'close') {
    client?.close();
    process.exit(0);
  }
});
