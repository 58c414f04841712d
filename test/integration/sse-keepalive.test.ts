import assert from '../support/assert.js';
import { Agent, get, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { test } from '@jest/globals';
import { SECRET, token } from '../support/security.js';
import { startServer, type TestServer } from '../support/server.js';

/** One SSE request on `agent` that the server ends (its time range is over); resolves with the body and the socket. */
function completedStream(server: TestServer, agent: Agent, headers: Record<string, string>): Promise<{ body: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const url = `${server.httpUrl}/v1/events?to=2000-01-01T00:00:00Z`;
    get(url, { agent, headers: { accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ body, socket: res.socket as Socket }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

for (const secure of [false, true]) {
  test(`20 SSE streams on one keep-alive connection add no listeners to its socket (security ${secure ? 'on' : 'off'})`, async () => {
    // Requests on one connection hold one of its address's max_connections_per_ip slots, not one each.
    const server = await startServer(secure ? { security: { enabled: true, jwt: { secret: SECRET }, rate_limits: { max_connections_per_ip: 2 } } } : {});
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w);
    };
    process.on('warning', onWarning);
    const accepted: Socket[] = [];
    server.app.http.server.on('connection', (socket: Socket) => accepted.push(socket));
    try {
      const headers: Record<string, string> = secure ? { authorization: `Bearer ${await token('alice', [])}` } : {};
      const sockets = new Set<Socket>();
      const counts: number[] = [];
      for (let i = 0; i < 20; i++) {
        const { body, socket } = await completedStream(server, agent, headers);
        assert.match(body, /event: end\ndata: \{"reason":"completed"\}/);
        sockets.add(socket);
        assert.equal(accepted.length, 1);
        counts.push(accepted[0].listenerCount('close'));
      }
      assert.equal(sockets.size, 1, 'every request went over the one kept-alive connection');
      assert.ok(Math.max(...counts) === counts[0], `close listeners on the server's socket grew: ${counts.join(',')}`);
      assert.ok(counts[0] < 5, `close listeners: ${counts[0]}`);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
      agent.destroy();
      await server.close();
    }
  });
}

