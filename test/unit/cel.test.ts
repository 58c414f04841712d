import assert from '../support/assert.js';
import { test } from '@jest/globals';
import fc from 'fast-check';
import type { Severity } from '../../src/domain/catalog.js';
import { AppError } from '../../src/domain/errors.js';
import type { StoredAuditEvent } from '../../src/domain/event.js';
import { compileCel } from '../../src/filtering/cel.js';
import { MAX_COMPREHENSION_NESTING } from '../../src/filtering/cel-cost.js';

/** Liveness bound for one compile plus one evaluation: wide, so that only a runaway fails it. */
const BOUND_MS = 1_000;

function event(overrides: Partial<StoredAuditEvent> = {}): StoredAuditEvent {
  return {
    id: 'evt-1', type: 'BID_ACCEPTED', severity: 4 as Severity, timestamp: new Date('2025-03-01T12:00:00Z'),
    userId: 'u1', entityType: 'bid', entityId: 'b1', action: 'accept', result: 'SUCCESS',
    metadata: { amount: 150, currency: 'USD', tags: ['vip', 'eu'], nested: { depth: 2 } },
    correlationId: 'c1', source: 'api', traceparent: '', sequence: 42, receivedAt: new Date('2025-03-01T12:00:01Z'),
    previousHash: new Uint8Array(), hash: new Uint8Array(), metadataCommitments: {}, metadataSalts: {}, ...overrides,
  };
}

const matches = (expression: string, e = event()) => compileCel(expression, 4_096)(e);

function refusal(expression: string): AppError {
  try {
    compileCel(expression, 4_096);
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.equal(err.field, 'filter.expression');
    return err;
  }
  assert.fail(`expected ${expression} to be refused`);
}

function timed<T>(run: () => T): T {
  const start = performance.now();
  const result = run();
  const elapsed = performance.now() - start;
  assert.ok(elapsed < BOUND_MS, `took ${elapsed.toFixed(0)} ms`);
  return result;
}

test('the CEL view of an event: proto field names, short enum names, ints, timestamps, metadata, category', () => {
  for (const expression of [
    'event.type == "BID_ACCEPTED" && event.severity == "HIGH" && event.result == "SUCCESS"',
    'event.severity_level == 4 && event.severity_level > 3',
    'event.sequence == 42',
    'event.category == "bids"',
    'event.timestamp > timestamp("2024-01-01T00:00:00Z") && event.received_at > event.timestamp',
    'event.id == "evt-1" && event.user_id == "u1" && event.entity_type == "bid" && event.entity_id == "b1"',
    'event.action == "accept" && event.correlation_id == "c1" && event.source == "api"',
    'event.metadata.amount > 100.0 && event.metadata.currency == "USD" && event.metadata.nested.depth == 2.0',
    '"vip" in event.metadata.tags && event.metadata.tags.exists(t, t == "eu") && has(event.metadata.currency)',
    '!has(event.metadata.missing)',
  ]) {
    assert.equal(matches(expression), true, expression);
  }
  assert.equal(matches('event.category == "security"', event({ type: 'LOGIN_FAILED' })), true);
});

test('a missing key, an unknown field or a type mismatch on an event is no match, not an error', () => {
  assert.equal(matches('event.metadata.missing == 1'), false);
  assert.equal(matches('event.nope == "x"'), false);
  assert.equal(matches('event.metadata.currency > 1'), false);
  assert.equal(matches('event.metadata.amount'), false); // a non-bool result on this event
});

test('standard CEL semantics: heterogeneous numeric equality, overflow is an error, timestamp conversions', () => {
  assert.equal(matches('1.0 == 1'), true);
  assert.equal(matches('1u == 1 && 2 < 2.5'), true);
  assert.equal(matches('9223372036854775807 + 1 > 0'), false);
  assert.equal(matches('!(9223372036854775807 + 1 > 0)'), false); // an error, not a wrapped negative number
  assert.equal(matches('int(event.timestamp) == 1740830400'), true);
  assert.equal(matches('string(event.timestamp) == "2025-03-01T12:00:00Z"'), true);
});

test('compile errors are INVALID_ARGUMENT on filter.expression with a one-line reason', () => {
  assert.match(refusal('event.type ==').message, /filter\.expression: invalid CEL expression: /);
  assert.match(refusal('1 + 2').message, /must evaluate to bool, not int/);
  assert.match(refusal('"a"').message, /must evaluate to bool, not string/);
  assert.match(refusal('user.id == "x"').message, /Unknown variable: user/);
  assert.match(refusal('nope(event.id)').message, /Unknown function: nope/);
  assert.match(refusal('event.id.matches("(")').message, /matches: .*missing closing \)/);
});

test('an expression over the length limit is refused before parsing', () => {
  assert.throws(() => compileCel('true || true', 5), (err) => err instanceof AppError && /limit is 5/.test(err.message));
});

test('matches is RE2: flags, Unicode classes, POSIX classes, named groups; Perl-only syntax refused', () => {
  assert.equal(matches('event.source.matches("(?i)API")'), true);
  assert.equal(matches('event.source.matches("API")'), false);
  assert.equal(matches('event.metadata.currency.matches("^\\\\pL+$")'), true);
  assert.equal(matches('"é".matches("^\\\\pL$")'), true);
  assert.equal(matches('event.metadata.currency.matches("^[[:upper:]]+$")'), true);
  assert.equal(matches('event.source.matches("(?P<word>a)p")'), true);
  for (const pattern of ['(', '(?=a)', '(a)\\\\1', 'a{1001}']) {
    assert.match(refusal(`event.id.matches("${pattern}")`).message, /invalid CEL expression: matches: /, pattern);
  }
  // A pattern computed per event that RE2 refuses: no match.
  assert.equal(matches('event.id.matches(event.source + "(")'), false);
});

test('a backtracking-prone pattern runs in linear time', () => {
  const id = `${'a'.repeat(30)}!`;
  const longId = `${'0a-'.repeat(3_000)}x`;
  timed(() => assert.equal(matches('event.id.matches("^(a|a)+$")', event({ id })), false));
  timed(() => assert.equal(matches('event.id.matches("^([0-9a-f]|[0-9a-f-])+!$")', event({ id: longId })), false));
  timed(() => assert.equal(matches('event.id.matches("^(a*)*$")', event({ id })), false));
});

test('comprehensions nested too deep, or too costly over literals, are refused at compile', () => {
  const nested = (depth: number): string => (depth === 0 ? 'x' : `[1, 2].map(x, ${nested(depth - 1)})`);
  assert.equal(matches(`${nested(MAX_COMPREHENSION_NESTING)}.size() == 2`), true);
  assert.match(refusal(`${nested(MAX_COMPREHENSION_NESTING + 1)}.size() == 2`).message, /expression too costly: comprehensions nested 3 deep, the limit is 2/);
  const literal = `[${Array.from({ length: 200 }, (_, i) => i).join(', ')}]`;
  assert.match(timed(() => refusal(`${literal}.map(x, ${literal}.map(y, y)).size() > 0`)).message, /expression too costly: at least \d+ cost units/);
  assert.match(refusal(`${'['.repeat(60)}1${']'.repeat(60)} == []`).message, /expression too costly: nested \d+ deep, the limit is 50/);
});

test('an evaluation over its budget throws RESOURCE_EXHAUSTED quickly; ordinary errors stay false', () => {
  const big = event({ metadata: { items: Array.from({ length: 2_000 }, (_, i) => i) } });
  const predicate = compileCel('event.metadata.items.map(x, event.metadata.items.map(y, y)).size() > 0', 4_096);
  const err = timed(() => {
    try {
      predicate(big);
    } catch (thrown) {
      return thrown;
    }
    assert.fail('expected RESOURCE_EXHAUSTED');
  });
  assert.ok(err instanceof AppError);
  assert.equal(err.code, 'RESOURCE_EXHAUSTED');
  assert.equal(err.field, 'filter.expression');
  assert.match(err.message, /^filter\.expression: expression exceeded its evaluation budget/);
  // Exhaustion inside a branch that `||` would otherwise absorb still throws.
  assert.throws(() => compileCel('event.metadata.items.exists(x, event.metadata.items.exists(y, x + y < 0)) || true', 4_096)(big),
    (thrown) => thrown instanceof AppError && thrown.code === 'RESOURCE_EXHAUSTED');
  // The same expression on a small event is fine.
  assert.equal(predicate(event({ metadata: { items: [1, 2, 3] } })), true);
});

/** A small CEL grammar over the event view, hostile parts included (comprehensions, regexes, concatenation). */
const expressionArb: fc.Arbitrary<string> = fc.letrec<{ bool: string; value: string; list: string }>((tie) => ({
  bool: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('true', 'false', 'event.severity_level > 2', 'has(event.metadata.amount)', '1.0 == 1'),
    fc.tuple(tie('value'), fc.constantFrom('==', '!=', '<', '>='), tie('value')).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(tie('bool'), fc.constantFrom('&&', '||'), tie('bool')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('bool').map((b) => `!${b}`),
    fc.tuple(tie('value'), fc.constantFrom('^(a|a)+$', '(?i)evt', '\\\\pL+', '(x+x+)+y', '[0-9a-f-]+!$')).map(([v, p]) => `string(${v}).matches("${p}")`),
    fc.tuple(tie('list'), fc.constantFrom('all', 'exists', 'exists_one'), tie('bool')).map(([l, m, b]) => `${l}.${m}(x, ${b})`),
    fc.tuple(tie('value'), tie('list')).map(([v, l]) => `${v} in ${l}`),
  ),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('event.id', 'event.type', 'event.sequence', 'event.metadata.amount', 'event.metadata.missing', '9223372036854775807', '1', '2.5', '"a"', 'x'),
    fc.tuple(tie('value'), fc.constantFrom('+', '-', '*', '/'), tie('value')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('list').map((l) => `${l}.size()`),
  ),
  list: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('event.metadata.tags', 'event.metadata.items', '[1, 2, 3]', '[]'),
    fc.tuple(tie('list'), tie('list')).map(([a, b]) => `(${a} + ${b})`),
    fc.tuple(tie('list'), tie('value')).map(([l, v]) => `${l}.map(x, ${v})`),
    fc.tuple(tie('list'), tie('bool')).map(([l, b]) => `${l}.filter(x, ${b})`),
  ),
})).bool;

test('property: random expressions only ever fail with AppError, and within the bound', () => {
  const hostile = event({ id: `${'a'.repeat(3_000)}!`, metadata: { amount: 5, tags: ['a', 'b'], items: Array.from({ length: 3_000 }, (_, i) => i) } });
  fc.assert(fc.property(expressionArb, (expression) => {
    timed(() => {
      try {
        const predicate = compileCel(expression, 4_096);
        assert.equal(typeof predicate(event()), 'boolean');
        predicate(hostile);
      } catch (err) {
        assert.ok(err instanceof AppError, `${expression}: ${String(err)}`);
        assert.ok(err.code === 'INVALID_ARGUMENT' || err.code === 'RESOURCE_EXHAUSTED', `${expression}: ${err.code}`);
      }
    });
  }), { numRuns: 300, seed: 20_250_301 });
});
