import assert from '../support/assert.js';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { AuditEvent as ProtoEvent } from '../../generated/audit/v1/event.js';
import { EventType } from '../../generated/audit/v1/event.js';
import { eventTypeFromProto, resultFromProto } from '../../src/contract/enums.js';
import type { Severity } from '../../src/domain/catalog.js';
import { commitment, computeHash } from '../../src/store/hash-chain.js';
import { SseClient } from '../support/sse-client.js';
import { WsClient } from '../support/ws-client.js';
import { bearer, SECRET, token } from '../support/security.js';
import { filterOf, makeEvent, startServer, StreamReader, type TestServer } from '../support/server.js';
import { fromTimestamp } from '../../src/contract/time-mapping.js';

/**
 * A masked caller must not be able to read a masked value back through its filters: for each path a
 * filter guesses the first digit of a masked SSN, and every guess must get the same answer. The same
 * filter, run as an admin (who sees the value), tells the right digit, so the test can tell an
 * oracle from none.
 */
const SSN = '512-44-9876';
const guesses = [...'0123456789'];
/** Matches the target event when the guess holds; always matches the sentinel published after it. */
const guessing = (prefix: string) =>
  `(event.action == "target" && event.metadata.ssn.startsWith("${prefix}")) || event.action == "sentinel"`;

/** The action of the first event a path delivers for an expression: "target" (guess right) or "sentinel". */
type FirstAction = (jwt: string, expression: string) => Promise<string>;

function publishAs(server: TestServer, jwt: string, action: string, metadata: object = {}): Promise<unknown> {
  const event = makeEvent({ type: EventType.EVENT_TYPE_CALL_CREATED, action, metadata });
  return new Promise((resolve, reject) => server.client.publish({ event }, bearer(jwt).metadata, (e, r) => (e ? reject(e) : resolve(r))));
}

async function answers(firstAction: FirstAction, jwt: string): Promise<string[]> {
  const result: string[] = [];
  for (const digit of guesses) result.push(await firstAction(jwt, guessing(digit)));
  return result;
}

describe('a masked caller learns nothing about a masked value from its filters', () => {
  let server: TestServer;
  let admin: string;
  let operator: string;
  beforeAll(async () => {
    server = await startServer({ security: { enabled: true, jwt: { secret: SECRET } } });
    admin = await token('root', ['admin']);
    operator = await token('op', ['operator']);
    await publishAs(server, admin, 'target', { ssn: SSN });
    await publishAs(server, admin, 'sentinel');
  });
  afterAll(() => server.close());

  const replayGrpc: FirstAction = async (jwt, expression) => {
    const reader = new StreamReader(server.client.subscribe(
      { clientName: 'guess', filter: filterOf({ expression }), afterSequence: 0, afterCursor: '' }, bearer(jwt).metadata));
    const [first] = await reader.eventsUntil(1);
    reader.cancel();
    return first!.action;
  };
  const query: FirstAction = (jwt, expression) => new Promise((resolve, reject) => {
    const events: ProtoEvent[] = [];
    const call = server.client.query({ filter: filterOf({ expression }), order: 2, limit: 10, pageToken: '' }, bearer(jwt).metadata);
    call.on('data', (m: { kind?: { $case: string; events?: { events: ProtoEvent[] } } }) => m.kind?.events && events.push(...m.kind.events.events));
    call.on('error', reject);
    call.on('end', () => resolve(events[0]!.action));
  });
  const websocket: FirstAction = async (jwt, expression) => {
    const ws = await WsClient.open(server.httpUrl, { headers: { authorization: `Bearer ${jwt}` } });
    await ws.subscribe('g', { filter: { expression }, after_sequence: 0 });
    const [first] = await ws.eventsUntil('g', 1);
    ws.close();
    return first.action;
  };
  const sse: FirstAction = async (jwt, expression) => {
    const client = await SseClient.open(`${server.httpUrl}/v1/events?after_sequence=0&expression=${encodeURIComponent(expression)}&access_token=${jwt}`);
    const [first] = await client.eventsUntil(1);
    client.close();
    return first.action;
  };

  for (const [name, path] of Object.entries({ 'gRPC replay': replayGrpc, Query: query, WebSocket: websocket, SSE: sse })) {
    test(`${name}: every guess gets the same answer`, async () => {
      assert.deepEqual(await answers(path, operator), guesses.map(() => 'sentinel'));
      // The control: for a caller who sees the value, the same filters do tell the digit.
      assert.deepEqual((await answers(path, admin)).map((a, i) => (a === 'target' ? guesses[i] : '')).join(''), SSN[0]);
    });
  }

  test('live gRPC subscriptions: every guess gets the same answer', async () => {
    const open = (jwt: string) => guesses.map((digit) => new StreamReader(server.client.subscribe(
      { clientName: 'guess', filter: filterOf({ expression: guessing(digit) }), afterCursor: '' }, bearer(jwt).metadata)));
    const asOperator = open(operator);
    const asAdmin = open(admin);
    await Promise.all([...asOperator, ...asAdmin].map((r) => r.started()));
    await publishAs(server, admin, 'target', { ssn: SSN });
    await publishAs(server, admin, 'sentinel');
    const first = (readers: StreamReader[]) => Promise.all(readers.map(async (r) => {
      const [event] = await r.eventsUntil(1);
      r.cancel();
      return event!.action;
    }));
    assert.deepEqual(await first(asOperator), guesses.map(() => 'sentinel'));
    assert.equal((await first(asAdmin)).indexOf('target'), Number(SSN[0]));
  });

  test('a masked copy verifies against its hash from the commitments, and carries no salt for the masked value', async () => {
    const events = (jwt: string) => new Promise<ProtoEvent[]>((resolve, reject) => {
      const out: ProtoEvent[] = [];
      const call = server.client.query({ filter: filterOf({ expression: 'event.action == "target"' }), order: 2, limit: 1, pageToken: '' }, bearer(jwt).metadata);
      call.on('data', (m: { kind?: { events?: { events: ProtoEvent[] } } }) => m.kind?.events && out.push(...m.kind.events.events));
      call.on('error', reject);
      call.on('end', () => resolve(out));
    });
    const [seen] = await events(operator);
    const [clear] = await events(admin);
    assert.equal(seen!.metadata!.ssn, '***-**-9876');
    assert.deepEqual(Object.keys(seen!.metadataSalts), [], 'no salt travels with a masked value');
    // What anyone can recompute from what it received: the hash over the commitments.
    const recomputed = computeHash({
      ...seen!, type: eventTypeFromProto(seen!.type)!, result: resultFromProto(seen!.result)!, severity: seen!.severity as number as Severity,
      timestamp: fromTimestamp(seen!.timestamp!).date, timestampSubMsNanos: fromTimestamp(seen!.timestamp!).subMsNanos, receivedAt: fromTimestamp(seen!.receivedAt!).date, sequence: Number(seen!.sequence),
    });
    assert.deepEqual(recomputed, seen!.hash);
    assert.deepEqual(seen!.hash, clear!.hash);
    // A caller who sees the value in clear gets its salt and can open the commitment.
    assert.deepEqual(commitment(clear!.metadataSalts.ssn!, SSN), clear!.metadataCommitments.ssn);
    assert.notDeepEqual(commitment(Buffer.alloc(16), SSN), clear!.metadataCommitments.ssn);
  });

  test('the masked value itself is what a masked filter sees', async () => {
    assert.equal(await replayGrpc(operator, guessing('***-**-9876')), 'target');
  });
});
