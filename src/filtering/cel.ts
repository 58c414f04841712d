import { celEnv, celList, celMap, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { LRUCache } from 'lru-cache';
import { severityName, typeInfo } from '../domain/catalog.js';
import { AppError } from '../domain/errors.js';
import type { StoredAuditEvent } from '../domain/event.js';
import {
  children, comprehensionNesting, compileRegex, countNodes, depth, instrumentComprehensions, MAX_AST_DEPTH,
  MAX_AST_NODES, MAX_COMPREHENSION_NESTING, MAX_EVALUATION_COST, metered, meteredFunctions, staticCost,
} from './cel-cost.js';

export type CelPredicate = (event: StoredAuditEvent) => boolean;

const FIELD = 'filter.expression';

/** Standard CEL (no extensions), every function metered: see cel-cost.ts for the cost model. */
const environment = celEnv({ funcs: meteredFunctions(celEnv().funcs) });

/** Names an expression may use besides its comprehension variables: `event`, CEL's type names, google.protobuf.* types. */
const GLOBALS = new Set(['event', 'int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn', 'google']);

/** Calls the planner evaluates itself rather than through a function. */
const SPECIAL_FORMS = new Set(['_[_]', '_?_:_', '_&&_', '_||_', '@not_strictly_false', '__not_strictly_false__']);

/** The CEL view of an event: proto field names, enums as short names, built once per event. */
const views = new WeakMap<StoredAuditEvent, { event: CelInput }>();

function celView(e: StoredAuditEvent): { event: CelInput } {
  let view = views.get(e);
  if (!view) {
    const fields: Array<[string, CelInput]> = [
      ['id', e.id], ['type', e.type], ['category', typeInfo(e.type).category], ['severity', severityName(e.severity)],
      ['severity_level', BigInt(e.severity)], ['timestamp', celTimestamp(e.timestamp, e.timestampSubMsNanos)], ['user_id', e.userId],
      ['entity_type', e.entityType], ['entity_id', e.entityId], ['action', e.action], ['result', e.result],
      ['metadata', celJson(e.metadata)], ['correlation_id', e.correlationId], ['source', e.source],
      ['sequence', BigInt(e.sequence)], ['received_at', timestampFromDate(e.receivedAt)],
    ];
    view = { event: celMap(new Map(fields)) };
    views.set(e, view);
  }
  return view;
}

/** A CEL timestamp with the event's nanoseconds below the millisecond (a Date holds milliseconds). */
function celTimestamp(date: Date, subMsNanos = 0): ReturnType<typeof timestampFromDate> {
  const t = timestampFromDate(date);
  t.nanos += subMsNanos;
  return t;
}

/** Struct-like metadata as CEL values, converted once so that each access is O(1). */
function celJson(value: unknown): CelInput {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return celList(value.map(celJson));
  if (value !== null && typeof value === 'object') {
    return celMap(new Map(Object.entries(value).map(([k, v]) => [k, celJson(v)])));
  }
  return null;
}

/**
 * Compiles once. Refused as INVALID_ARGUMENT: a syntax error, an unknown variable or function, a
 * result that is not a bool, a constant pattern RE2 does not accept, an expression over the static
 * limits. The predicate returns false when evaluation fails on an event (missing key, type mismatch,
 * overflow) and throws RESOURCE_EXHAUSTED when the evaluation goes over its budget.
 */
export function compileCel(expression: string, maxLength: number): CelPredicate {
  if (expression.length > maxLength) {
    throw AppError.invalid(FIELD, `is ${expression.length} characters, the limit is ${maxLength}`);
  }
  // Dashboards open many subscriptions with the same expression: parse, check and plan it once. The
  // predicate holds no state of its own (each subscription's CPU budget wraps it), so it can be shared.
  let predicate = compiled.get(expression);
  if (!predicate) {
    predicate = compile(expression);
    compiled.set(expression, predicate);
  }
  return predicate;
}

/** Compiled expressions by their text; a refused one throws every time, so it is never cached. */
const compiled = new LRUCache<string, CelPredicate>({ max: 1_000 });

function compile(expression: string): CelPredicate {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (err) {
    throw AppError.invalid(FIELD, `invalid CEL expression: ${(err as Error).message.split('\n')[0]}`);
  }
  checkLimits(parsed.expr);
  checkNames(parsed.expr, new Set());
  checkBoolResult(parsed.expr);
  instrumentComprehensions(parsed.expr);
  const evaluate = plan(environment, parsed);
  return (event) => {
    const bindings = celView(event);
    const { result, exceeded } = metered(MAX_EVALUATION_COST, () => evaluate(bindings));
    if (exceeded) throw new AppError('RESOURCE_EXHAUSTED', exceeded, FIELD);
    return !isCelError(result) && result === true; // an error on this event: no match
  };
}

function tooCostly(reason: string): AppError {
  return AppError.invalid(FIELD, `expression too costly: ${reason}`);
}

function invalid(reason: string): AppError {
  return AppError.invalid(FIELD, `invalid CEL expression: ${reason}`);
}

function checkLimits(expr: Expr): void {
  const nodes = countNodes(expr);
  if (nodes > MAX_AST_NODES) throw tooCostly(`${nodes} syntax nodes, the limit is ${MAX_AST_NODES}`);
  const nesting = depth(expr);
  if (nesting > MAX_AST_DEPTH) throw tooCostly(`nested ${nesting} deep, the limit is ${MAX_AST_DEPTH}`);
  const comprehensions = comprehensionNesting(expr);
  if (comprehensions > MAX_COMPREHENSION_NESTING) {
    throw tooCostly(`comprehensions nested ${comprehensions} deep, the limit is ${MAX_COMPREHENSION_NESTING}`);
  }
  const cost = staticCost(expr);
  if (cost > MAX_EVALUATION_COST) {
    throw tooCostly(`at least ${Math.round(cost)} cost units per event, the limit is ${MAX_EVALUATION_COST}`);
  }
}

/** Unknown variables and functions, and constant patterns RE2 refuses, are compile errors. */
function checkNames(expr: Expr, bound: ReadonlySet<string>): void {
  const kind = expr.exprKind;
  if (kind.case === 'identExpr' && !bound.has(kind.value.name) && !GLOBALS.has(kind.value.name)) {
    throw invalid(`Unknown variable: ${kind.value.name}`);
  }
  if (kind.case === 'callExpr') {
    const fn = kind.value.function;
    if (!SPECIAL_FORMS.has(fn) && environment.funcs.find(fn) === undefined) throw invalid(`Unknown function: ${fn}`);
    const pattern = fn === 'matches' ? kind.value.args.at(-1)?.exprKind : undefined;
    if (pattern?.case === 'constExpr' && pattern.value.constantKind.case === 'stringValue') {
      try {
        compileRegex(pattern.value.constantKind.value);
      } catch (err) {
        throw invalid(`matches: ${(err as Error).message}`);
      }
    }
  }
  if (kind.case === 'comprehensionExpr') {
    const c = kind.value;
    const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar]);
    for (const outer of [c.iterRange, c.accuInit]) if (outer) checkNames(outer, bound);
    for (const scoped of [c.loopCondition, c.loopStep, c.result]) if (scoped) checkNames(scoped, inner);
    return;
  }
  for (const child of children(expr)) checkNames(child, bound);
}

const BOOL_CALLS = new Set([
  '_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_', '_&&_', '_||_', '!_', '@in', '@not_strictly_false',
  'matches', 'contains', 'startsWith', 'endsWith',
]);
const ARITHMETIC = new Set(['_+_', '_-_', '_*_', '_/_', '_%_', '-_']);
const CONVERSIONS = new Set(['int', 'uint', 'double', 'string', 'bytes', 'size', 'timestamp', 'duration']);
const CONSTANT_TYPES: Record<string, string> = {
  boolValue: 'bool', int64Value: 'int', uint64Value: 'uint', doubleValue: 'double', stringValue: 'string',
  bytesValue: 'bytes', nullValue: 'null_type',
};

/** The result type where the syntax alone tells it, else 'dyn' (decided per event: non-bool is no match). */
function staticType(expr: Expr): string {
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'constExpr': return CONSTANT_TYPES[kind.value.constantKind.case ?? ''] ?? 'dyn';
    case 'listExpr': return 'list';
    case 'structExpr': return kind.value.messageName || 'map';
    case 'selectExpr': return kind.value.testOnly ? 'bool' : 'dyn';
    case 'comprehensionExpr': {
      const { result, accuVar, accuInit } = kind.value;
      const returnsAccumulator = result?.exprKind.case === 'identExpr' && result.exprKind.value.name === accuVar;
      const source = returnsAccumulator ? accuInit : result;
      return source ? staticType(source) : 'dyn';
    }
    case 'callExpr': {
      const fn = kind.value.function;
      if (BOOL_CALLS.has(fn)) return 'bool';
      if (CONVERSIONS.has(fn)) return fn === 'size' ? 'int' : fn === 'timestamp' ? 'google.protobuf.Timestamp' : fn === 'duration' ? 'google.protobuf.Duration' : fn;
      const operands = fn === '_?_:_' ? kind.value.args.slice(1) : ARITHMETIC.has(fn) ? kind.value.args : [];
      const types = new Set(operands.map(staticType));
      return types.size === 1 ? [...types][0]! : 'dyn';
    }
    default: return 'dyn';
  }
}

function checkBoolResult(expr: Expr): void {
  const type = staticType(expr);
  if (type !== 'bool' && type !== 'dyn') throw invalid(`must evaluate to bool, not ${type}`);
}
