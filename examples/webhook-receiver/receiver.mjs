// A webhook receiver for auditstream: verifies each request's signature and prints each new event as
// one JSON line on stdout (logs go to stderr). Node 20+, no dependencies.
//
//   WEBHOOK_SECRET=... PORT=9000 node receiver.mjs
//
// Every POST carries Webhook-Id, Webhook-Timestamp (unix seconds) and
// Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>; the body is
// {"events":[...]}, the events in proto JSON, in log order.
import { Buffer } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

const SECRET = process.env.WEBHOOK_SECRET;
const PORT = Number(process.env.PORT ?? 9000);
const HOST = process.env.HOST ?? '127.0.0.1';
const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const SEEN_LIMIT = 100_000;

if (!SECRET) {
  process.stderr.write('receiver: set WEBHOOK_SECRET to the webhook\'s secret\n');
  process.exit(2);
}

const log = (message) => process.stderr.write(`receiver: ${message}\n`);

/**
 * True when one of the request's v1 signatures is the HMAC of "<timestamp>.<body>" and the timestamp
 * is within 5 minutes of now. The timestamp is signed with the body, so a captured request cannot be
 * replayed later. Verified over the raw bytes, before any parsing.
 */
function verified(headers, body) {
  const timestamp = String(headers['webhook-timestamp'] ?? '');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', SECRET).update(`${timestamp}.`).update(body).digest();
  // Several signatures, separated by ", ", may come during a secret rotation: one valid v1 is enough.
  return String(headers['webhook-signature'] ?? '').split(', ').some((s) => {
    const given = Buffer.from(s.startsWith('v1=') ? s.slice(3) : '', 'hex');
    // timingSafeEqual: comparing byte by byte with === would leak, through the time it takes, how
    // much of a forged signature is right.
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

// Delivery is at least once: a request whose 2xx the server never saw (a timeout, a restart) is sent
// again, so the same event can arrive twice. Deduplicating by event id is the receiver's job. This
// keeps the last SEEN_LIMIT ids in memory; a real receiver would store them with the event's effect
// (a unique key on the id), so that a restart of the receiver forgets nothing.
const seen = new Set();

function handle(events) {
  for (const event of events) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value);
    process.stdout.write(`${JSON.stringify(event)}\n`);
  }
}

const server = createServer((req, res) => {
  const answer = (status, text) => res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
  if (req.method !== 'POST') return answer(405, 'POST only\n');
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      answer(413, 'too large\n');
      req.destroy();
    } else {
      chunks.push(chunk);
    }
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verified(req.headers, body)) {
      log(`refused a request from ${req.socket.remoteAddress}: bad signature or stale timestamp`);
      return answer(401, 'bad signature\n');
    }
    let events;
    try {
      ({ events } = JSON.parse(body.toString('utf8')));
      if (!Array.isArray(events)) throw new Error('no events array');
    } catch (err) {
      return answer(400, `${err.message}\n`);
    }
    handle(events);
    // Answer only once the events are handled: a 2xx tells the server it may move on.
    answer(204);
  });
});

server.listen(PORT, HOST, () => {
  const { address, port } = server.address();
  log(`listening on http://${address}:${port}/`);
});

// Stop cleanly: finish the requests in progress, then exit.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
