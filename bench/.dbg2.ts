import { Server, ServerCredentials, credentials, Client, Metadata } from '@grpc/grpc-js';
import { AuditServiceService, SubscribeRequest, SubscribeResponse } from '../generated/audit/v1/audit_service.js';
import { benchEvent } from './support/events.js';
const N = 20000;
const server = new Server();
server.addService(AuditServiceService, {
  subscribe(call: any) {
    const ev = benchEvent(1);
    let i = 0;
    const pump = () => { while (i < N) { i++; if (!call.write({ kind: { $case: 'events', events: { events: [ev] } } })) { call.once('drain', pump); return; } } call.end(); };
    pump();
  },
} as any);
const port = await new Promise<number>((res) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (_e, p) => res(p)));
const c = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
const t = performance.now(); let n = 0;
const s = c.makeServerStreamRequest('/audit.v1.AuditService/Subscribe', (b: any) => b, (b: Buffer) => b, Buffer.from(SubscribeRequest.encode(SubscribeRequest.fromPartial({})).finish()), new Metadata(), {});
s.on('data', () => n++);
s.on('end', () => { console.log(`${n} msgs in ${(performance.now() - t).toFixed(0)} ms = ${Math.round(n / ((performance.now() - t) / 1000))}/s (same process)`); process.exit(0); });
s.on('error', (e: any) => console.log(e.message));
