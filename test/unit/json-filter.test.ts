import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { filterFromJson, filterFromQuery } from '../../src/contract/json-filter.js';
import { decodeFrame, parseSequence, toClientFrame } from '../../src/contract/ws-client-frames.js';
import { AppError } from '../../src/domain/errors.js';
import { MATCH_ALL } from '../../src/domain/filter.js';

const limits = { maxStringLength: 256, maxMetadataBytes: 65_536, maxMetadataDepth: 8, maxMetadataKeys: 512, maxFilterValues: 3, maxBatchEvents: 1_000 };

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err.field;
  }
  assert.fail('expected INVALID_ARGUMENT');
}

test('JSON filters take snake_case or lowerCamelCase keys and full, short or numeric enum values', () => {
  const snake = filterFromJson({
    event_types: ['CALL_CREATED', 'event_type_bid_accepted'], severities: ['HIGH', 'SEVERITY_INFO'], min_severity: 'low',
    entity_types: ['call'], entity_ids: ['c1'], user_ids: ['u1'], expression: ' event.action == "x" ',
    time_range: { start: '2025-01-01T00:00:00Z', end: null },
  }, limits);
  assert.deepEqual(snake.eventTypes, ['CALL_CREATED', 'BID_ACCEPTED']);
  assert.deepEqual(snake.severities, [4, 1]);
  assert.equal(snake.minSeverity, 2);
  assert.deepEqual([snake.entityTypes, snake.entityIds, snake.userIds], [['call'], ['c1'], ['u1']]);
  assert.equal(snake.expression, 'event.action == "x"');
  assert.equal(snake.start?.toISOString(), '2025-01-01T00:00:00.000Z');
  assert.equal(snake.end, undefined);
  const camel = filterFromJson({ eventTypes: [1], minSeverity: 5, timeRange: {} }, limits);
  assert.deepEqual(camel.eventTypes, ['CALL_CREATED']);
  assert.equal(camel.minSeverity, 5);
  assert.deepEqual(filterFromJson(undefined, limits), MATCH_ALL);
  assert.deepEqual(filterFromJson(null, limits), MATCH_ALL);
});

test('JSON filters are checked strictly, naming the field', () => {
  assert.equal(fieldOf(() => filterFromJson('CALL_CREATED', limits)), 'filter');
  assert.equal(fieldOf(() => filterFromJson({ event_types: 'CALL_CREATED' }, limits)), 'filter.event_types');
  assert.equal(fieldOf(() => filterFromJson({ event_types: ['CALL_CREATED', 'NOPE'] }, limits)), 'filter.event_types[1]');
  assert.equal(fieldOf(() => filterFromJson({ event_types: [0] }, limits)), 'filter.event_types[0]');
  assert.equal(fieldOf(() => filterFromJson({ severities: ['SEVERE'] }, limits)), 'filter.severities[0]');
  assert.equal(fieldOf(() => filterFromJson({ min_severity: 'UNSPECIFIED' }, limits)), 'filter.min_severity');
  assert.equal(fieldOf(() => filterFromJson({ user_ids: [1] }, limits)), 'filter.user_ids[0]');
  assert.equal(fieldOf(() => filterFromJson({ user_ids: ['a', 'b', 'c', 'd'] }, limits)), 'filter.user_ids');
  assert.equal(fieldOf(() => filterFromJson({ time_range: { start: 'soon' } }, limits)), 'filter.time_range.start');
  assert.equal(fieldOf(() => filterFromJson({ time_range: { begin: '2025-01-01T00:00:00Z' } }, limits)), 'filter.time_range.begin');
  assert.equal(fieldOf(() => filterFromJson({ time_range: { start: '2025-02-01T00:00:00Z', end: '2025-01-01T00:00:00Z' } }, limits)), 'filter.time_range');
  assert.equal(fieldOf(() => filterFromJson({ colour: 'red' }, limits)), 'filter.colour');
});

test('query filters: repeated parameters OR, errors name the parameter', () => {
  const params = new URLSearchParams('type=CALL_CREATED&type=LOGIN_FAILED&severity=HIGH&min_severity=LOW&entity_type=call&entity_id=c1&user_id=u1&user_id=u2&expression=true&from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z');
  const filter = filterFromQuery(params, limits);
  assert.deepEqual(filter.eventTypes, ['CALL_CREATED', 'LOGIN_FAILED']);
  assert.deepEqual(filter.userIds, ['u1', 'u2']);
  assert.equal(filter.end?.toISOString(), '2025-01-02T00:00:00.000Z');
  assert.equal(fieldOf(() => filterFromQuery(new URLSearchParams('type=CALL_CREATED&type=NOPE'), limits)), 'type[1]');
  assert.equal(fieldOf(() => filterFromQuery(new URLSearchParams('to=x'), limits)), 'to');
  assert.equal(fieldOf(() => filterFromQuery(new URLSearchParams('from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z'), limits)), 'from');
  assert.equal(fieldOf(() => filterFromQuery(new URLSearchParams('expression=a&expression=b'), limits)), 'expression');
  assert.equal(fieldOf(() => filterFromQuery(new URLSearchParams('user_id=a&user_id=b&user_id=c&user_id=d'), limits)), 'user_id');
});

test('WebSocket client frames', () => {
  assert.deepEqual(toClientFrame(decodeFrame('{"type":"ping"}'), limits), { type: 'ping', id: undefined });
  assert.deepEqual(toClientFrame({ type: 'unsubscribe', id: 's1' }, limits), { type: 'unsubscribe', id: 's1' });
  const sub = toClientFrame({ type: 'subscribe', id: 's1', afterSequence: 7, clientName: 'x' }, limits);
  assert.deepEqual(sub, { type: 'subscribe', id: 's1', filter: MATCH_ALL, afterSequence: 7, afterCursor: undefined, clientName: 'x' });
  const resumed = toClientFrame({ type: 'subscribe', id: 's2', after_cursor: 'p1.4.0' }, limits);
  assert.equal(resumed.type === 'subscribe' && resumed.afterCursor, 'p1.4.0');
  assert.equal(fieldOf(() => toClientFrame({ type: 'subscribe', id: 's', after_cursor: 5 }, limits)), 'after_cursor');
  assert.equal(fieldOf(() => toClientFrame({ type: 'subscribe', id: '' }, limits)), 'id');
  assert.equal(fieldOf(() => toClientFrame({ type: 'unsubscribe', id: 'x'.repeat(129) }, limits)), 'id');
  assert.equal(fieldOf(() => toClientFrame({ type: 'subscribe', id: 's', client_name: 5 }, limits)), 'client_name');
  assert.equal(fieldOf(() => toClientFrame({ id: 's' }, limits)), 'type');
  assert.equal(fieldOf(() => decodeFrame('{')), undefined);
  assert.equal(fieldOf(() => decodeFrame('null')), undefined);
  assert.equal(parseSequence('42', 'x'), 42);
  assert.equal(parseSequence(0, 'x'), 0);
  for (const bad of [-1, 1.5, '1e3', '', 'x', {}, 2 ** 60]) assert.equal(fieldOf(() => parseSequence(bad, 'after_sequence')), 'after_sequence');
});

test('categories: names in any case, a list in JSON, a repeatable `category` query parameter; errors name the item', () => {
  assert.deepEqual(filterFromJson({ categories: ['security', 'Calls'] }, limits).categories, ['security', 'calls']);
  assert.deepEqual(filterFromJson({ categories: [] }, limits).categories, []);
  assert.equal(fieldOf(() => filterFromJson({ categories: ['security', 'secrets'] }, limits)), 'filter.categories[1]');
  assert.equal(fieldOf(() => filterFromJson({ categories: [1] }, limits)), 'filter.categories[0]');
  assert.equal(fieldOf(() => filterFromJson({ categories: 'security' }, limits)), 'filter.categories');
  assert.equal(fieldOf(() => filterFromJson({ categories: ['calls', 'bids', 'data', 'system'] }, limits)), 'filter.categories');
  const query = filterFromQuery(new URLSearchParams('category=security&category=DATA&type=LOGIN_FAILED'), limits);
  assert.deepEqual([query.categories, query.eventTypes], [['security', 'data'], ['LOGIN_FAILED']]);
  assert.equal(fieldOf(() => filterFromQuery(new URLSearchParams('category=security&category=nope'), limits)), 'category[1]');
});
