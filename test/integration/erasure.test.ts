import assert from '../support/assert.js';
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { ErasePersonalDataRequest, ErasePersonalDataResponse, VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import { type AuditEvent as ProtoEvent, EventType } from '../../generated/audit/v1/event.js';
import { commitment } from '../../src/store/hash-chain.js';
import { SseClient } from '../support/sse-client.js';
import { WsClient } from '../support/ws-client.js';
import { bearer, SECRET, token } from '../support/security.js';
import { filterOf, makeEvent, startServer, type TestServer } from '../support/server.js';

describe('erasure of a data subject\'s personal data keeps the chain', () => {
  let server: TestServer;
  let admin: string;
  let compliance: string;
  const published: Array<{ sequence: number }> = [];

  const call = <Res>(start: (cb: (e: ServiceError | null, r: Res) => void) => void) =>
    new Promise<Res>((resolve, reject) => start((e, r) => (e ? reject(e) : resolve(r))));
  const erase = (jwt: string, request: Partial<ErasePersonalDataRequest>) =>
    call<ErasePersonalDataResponse>((cb) => server.client.erasePersonalData({ reason: '', subject: undefined, ...request }, bearer(jwt).metadata, cb));
  const verify = () => call<VerifyChainResponse>((cb) => server.client.verifyChain({ fromSequence: 0, toSequence: 0 }, bearer(admin).metadata, cb));
  const history = (jwt: string) => new Promise<ProtoEvent[]>((resolve, reject) => {
    const out: ProtoEvent[] = [];
    const q = server.client.query({ filter: filterOf(), order: 2, limit: 100, pageToken: '' }, bearer(jwt).metadata);
    q.on('data', (m: { kind?: { events?: { events: ProtoEvent[] } } }) => m.kind?.events && out.push(...m.kind.events.events));
    q.on('error', reject);
    q.on('end', () => resolve(out));
  });

  beforeAll(async () => {
    server = await startServer({ security: { enabled: true, jwt: { secret: SECRET } } });
    admin = await token('root', ['admin']);
    compliance = await token('dpo', ['compliance']);
    const events = [
      makeEvent({ type: EventType.EVENT_TYPE_DATA_ACCESSED, userId: 'alice', metadata: { email: 'alice@example.com', ssn: '512-44-9876', note: 'export' } }),
      makeEvent({ type: EventType.EVENT_TYPE_DATA_ACCESSED, userId: 'bob', metadata: { email: 'bob@example.com', note: 'read' } }),
      makeEvent({ type: EventType.EVENT_TYPE_DATA_ACCESSED, userId: 'carol', metadata: { contact: 'bob@example.com', ticket: 'T-1' } }),
    ];
    for (const event of events) published.push(await call((cb) => server.client.publish({ event }, bearer(admin).metadata, cb)));
  });
  afterAll(() => server.close());

  test('only admin and compliance may erase; a request needs one criterion', async () => {
    const operator = await token('op', ['operator']);
    const denied = await erase(operator, { subject: { $case: 'userId', userId: 'alice' } }).catch((e: ServiceError) => e);
    assert.equal((denied as ServiceError).code, status.PERMISSION_DENIED);
    const invalid = await erase(admin, {}).catch((e: ServiceError) => e);
    assert.equal((invalid as ServiceError).code, status.INVALID_ARGUMENT);
    assert.match((invalid as ServiceError).details, /subject/);
  });

  test('by user id: personal values and their salts go, commitments and the chain stay, on every path', async () => {
    const before = (await history(admin))[0]!;
    const result = await erase(compliance, { subject: { $case: 'userId', userId: 'alice' }, reason: 'GDPR-17' });
    assert.deepEqual([result.eventsChanged, result.valuesErased], [1, 2]);
    const after = (await history(admin)).find((e) => e.id === before.id)!;
    assert.deepEqual(after.metadata, { note: 'export' });
    assert.deepEqual(Object.keys(after.metadataSalts), ['note']);
    assert.deepEqual(after.metadataCommitments, before.metadataCommitments);
    assert.deepEqual(after.hash, before.hash);
    assert.deepEqual(commitment(before.metadataSalts.email!, 'alice@example.com'), after.metadataCommitments.email, 'the commitment still binds the old value');
    assert.equal((await verify()).ok, true);

    const ws = await WsClient.open(server.httpUrl, { headers: { authorization: `Bearer ${admin}` } });
    await ws.subscribe('all', { after_sequence: 0 });
    const [wsFirst] = await ws.eventsUntil('all', 1);
    ws.close();
    const sse = await SseClient.open(`${server.httpUrl}/v1/events?after_sequence=0&access_token=${admin}`);
    const [sseFirst] = await sse.eventsUntil(1);
    sse.close();
    for (const e of [wsFirst, sseFirst]) {
      assert.deepEqual(e.metadata, { note: 'export' });
      assert.deepEqual(Object.keys(e.metadataCommitments).sort(), ['email', 'note', 'ssn']);
    }

    const record = (await history(admin)).find((e) => e.sequence === result.recordSequence)!;
    assert.equal(record.type, EventType.EVENT_TYPE_DATA_DELETED);
    assert.equal(record.userId, 'dpo');
    assert.equal(record.entityId, result.erasureId);
    assert.deepEqual(record.metadata, { criterion: 'user_id', reason: 'GDPR-17', events_changed: 1, values_erased: 2 });
  });

  test('by a metadata value: every event holding it loses that key and its other personal values', async () => {
    const result = await erase(admin, { subject: { $case: 'metadata', metadata: { key: 'contact', value: 'bob@example.com' } } });
    assert.deepEqual([result.eventsChanged, result.valuesErased], [1, 1]);
    const events = await history(admin);
    assert.deepEqual(events.find((e) => e.userId === 'carol')!.metadata, { ticket: 'T-1' });
    assert.deepEqual(events.find((e) => e.userId === 'bob')!.metadata, { email: 'bob@example.com', note: 'read' }, 'another key with the same value is another criterion');
    assert.equal((await verify()).ok, true);
    const again = await erase(admin, { subject: { $case: 'metadata', metadata: { key: 'contact', value: 'bob@example.com' } } });
    assert.deepEqual([again.eventsChanged, again.valuesErased], [0, 0]);
  });
});
