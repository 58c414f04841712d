/**
 * Bench worker: `connections` WebSocket connections to the HTTP bridge (/v1/stream), each carrying
 * `perConnection` match-all subscriptions (README, "WebSocket frames"). Used for idle-subscription
 * memory. Commands (IPC): open {url, connections, perConnection}; close. Replies: ready (every
 * subscription has its `subscribed` frame), progress.
 */
import WebSocket from 'ws';
import { reply, serveParent } from '../support/worker-ipc.js';

const sockets: WebSocket[] = [];
let subscribed = 0;
let errors = 0;
let errorSample = '';
let closing = false;

function open(url: string, connections: number, perConnection: number): void {
  const total = connections * perConnection;
  for (let c = 0; c < connections; c++) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    sockets.push(ws);
    ws.on('open', () => {
      for (let s = 0; s < perConnection; s++) {
        ws.send(JSON.stringify({ type: 'subscribe', id: `s${s}`, filter: {}, client_name: 'bench' }));
      }
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; error?: { message?: string } };
      if (frame.type === 'subscribed') {
        if (++subscribed === total) reply({ type: 'ready', subscriptions: total });
      } else if (frame.type === 'error') {
        errors++;
        errorSample ||= frame.error?.message ?? 'error frame';
      }
    });
    ws.on('close', (code, reason) => {
      if (closing) return;
      errors++;
      errorSample ||= `closed ${code} ${reason.toString()}`;
    });
    ws.on('error', (err) => {
      errors++;
      errorSample ||= err.message;
    });
  }
}

serveParent((m) => {
  if (m.type === 'open') {
    open(String(m.url), Number(m.connections), Number(m.perConnection));
    setInterval(() => reply({ type: 'progress', started: subscribed, errors, errorSample }), 500).unref();
  } else if (m.type === 'close') {
    closing = true;
    for (const ws of sockets) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});
