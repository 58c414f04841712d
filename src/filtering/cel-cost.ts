import {
  celFunc, celList, celMethod, CelScalar, isCelList, isCelMap, listType, type CelFunc, type CelInput, type CelType,
  type CelValue,
} from '@bufbuild/cel';
import { create } from '@bufbuild/protobuf';
import { ExprSchema, type Expr, type Expr_Comprehension } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { RE2JS } from '@bufbuild/re2';
import { LRUCache } from 'lru-cache';

/**
 * The cost model of a CEL filter, evaluated once per event per subscription.
 *
 * At compile time an expression is refused (INVALID_ARGUMENT) when it has more than MAX_AST_NODES
 * nodes, nests deeper than MAX_AST_DEPTH, nests comprehensions (map, filter, all, exists, exists_one)
 * more than MAX_COMPREHENSION_NESTING deep, or when the cost of its comprehensions over list and map
 * literals alone, estimated with the same units as below, exceeds MAX_EVALUATION_COST.
 *
 * At evaluation every step is charged to a budget of MAX_EVALUATION_COST units: each function or
 * operator call costs 1 plus the length of its string and bytes operands (equality and `in` a list
 * cost the whole size of the values compared, list `+` the size of the list it builds); each
 * comprehension costs the size of its range, then per iteration ITERATION_COST times the node count
 * of its body; `matches`
 * costs the text length times a factor growing with the pattern (RE2 runs in linear time); a call that
 * fails costs ERROR_COST more (an error is about a hundred times dearer than a call). Work that is
 * not a call (literals, field access, indexing) is O(1) per node and each node runs at most once per
 * charged unit, so one evaluation does O(MAX_AST_NODES + MAX_EVALUATION_COST) steps whatever the event:
 * event size E only adds O(E) once, when the event's CEL view is built (shared by all subscriptions).
 * Going over the budget ends the evaluation with a ResourceExhausted error.
 */
export const MAX_AST_NODES = 1_000;
export const MAX_AST_DEPTH = 50;
export const MAX_COMPREHENSION_NESTING = 2;
export const MAX_EVALUATION_COST = 100_000;
/**
 * Units per body node per comprehension iteration: an iteration (variable binding, accumulator,
 * condition) costs the interpreter about ten times a plain call (measured: 100,000 units of nested
 * `exists` took 116 ms with 1 unit per node, against about 12 ms for calls and `matches`).
 */
export const ITERATION_COST = 10;
/** Units charged for a call that fails (no overload, overflow, a bad argument). */
export const ERROR_COST = 100;
/** Distinct run-time regular expressions kept compiled. */
const REGEX_CACHE_SIZE = 256;

/** Thrown inside the evaluator; the evaluator turns it into a CEL error, so the meter remembers it too. */
class BudgetExceeded extends Error {}

/** The budget of the evaluation under way (evaluation is synchronous: one at a time). */
class Meter {
  spent = 0;
  exceeded: string | undefined;
  constructor(readonly limit: number) {}

  charge(units: number, what: string): void {
    this.spent += units;
    if (this.spent > this.limit) {
      this.exceeded ??= `expression exceeded its evaluation budget of ${this.limit} cost units (at ${what})`;
      throw new BudgetExceeded(this.exceeded);
    }
  }
}

let current: Meter | undefined;

/** Runs `evaluate` under a fresh budget; returns its result and why the budget ran out, if it did. */
export function metered<T>(limit: number, evaluate: () => T): { result: T; exceeded: string | undefined } {
  const meter = new Meter(limit);
  const outer = current;
  current = meter;
  try {
    return { result: evaluate(), exceeded: meter.exceeded };
  } finally {
    current = outer;
  }
}

function charge(units: number, what: string): void {
  current?.charge(units, what);
}

/** Length of a string or bytes value; anything else costs nothing extra to pass to a call. */
function flatWeight(v: unknown): number {
  return typeof v === 'string' || v instanceof Uint8Array ? v.length : 0;
}

const deepWeights = new WeakMap<object, number>();

/** The whole size of a value, as deep equality walks it; cached since lists and maps are immutable. */
function deepWeight(v: unknown): number {
  if (!isCelList(v) && !isCelMap(v)) return 1 + flatWeight(v);
  let weight = deepWeights.get(v);
  if (weight === undefined) {
    weight = 1;
    if (isCelList(v)) for (const e of v) weight += deepWeight(e);
    else for (const [k, e] of v.entries()) weight += deepWeight(k) + deepWeight(e);
    deepWeights.set(v, weight);
  }
  return weight;
}

function callCost(name: string, operands: readonly unknown[]): number {
  switch (name) {
    case '_==_':
    case '_!=_':
      return 1 + operands.reduce<number>((sum, v) => sum + deepWeight(v), 0);
    case '@in':
      return 1 + (isCelList(operands[1]) ? deepWeight(operands[0]) + deepWeight(operands[1]) : flatWeight(operands[0]));
    default:
      return 1 + operands.reduce<number>((sum, v) => sum + flatWeight(v), 0);
  }
}

type AnyImpl = (this: unknown, ...args: unknown[]) => CelInput;

/** `f` with the same signature, charging the meter before it runs. */
function meteredFunc(f: CelFunc): CelFunc {
  const impl: AnyImpl = function (this: unknown, ...args: unknown[]) {
    const target = f.target ? (this as CelValue) : undefined;
    charge(callCost(f.name, target === undefined ? args : [target, ...args]), f.name);
    const result = f.call(0, target, args as CelValue[]);
    if (result === undefined || result instanceof Error) {
      // An error costs far more than a call (an Error object, its stack, the runtime's unwinding):
      // measured at about 5 us against 0.05 us, so a loop of failing calls is charged for it.
      charge(ERROR_COST, f.name);
      throw result ?? new Error(`no matching overload for '${f.name}'`);
    }
    return result;
  };
  const signature = f.arguments as CelType[];
  return f.target
    ? celMethod(f.name, f.target, signature, f.result, impl as never)
    : celFunc(f.name, signature, f.result, impl as never);
}

const regexCache = new LRUCache<string, RE2JS>({ max: REGEX_CACHE_SIZE });

/** Compiles an RE2 pattern (throws on a pattern RE2 refuses), reusing earlier compilations. */
export function compileRegex(pattern: string): RE2JS {
  let re = regexCache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    regexCache.set(pattern, re);
  }
  return re;
}

/** RE2 simulates the pattern's automaton over the text: cost grows with both, linearly. */
function regexCost(text: string, pattern: string): number {
  return (text.length + 1) * (4 + Math.ceil(pattern.length / 4));
}

const LIST = listType(CelScalar.DYN);

/** Internal calls the planner sees for the rewritten comprehensions (names no CEL source can write). */
const TICK = '@cost_tick';
const RANGE = '@cost_range';

/** Every standard function metered, plus the hooks that charge comprehensions. */
export function meteredFunctions(standard: Iterable<CelFunc>): CelFunc[] {
  const funcs = [...standard].map(meteredFunc);
  funcs.push(
    // The standard list `+` nests views, which makes iterating a map() result quadratic and deeply
    // recursive; copying makes that cost visible, here.
    celFunc('_+_', [LIST, LIST], LIST, (l, r) => {
      charge(1 + l.size + r.size, 'list +');
      return celList([...l, ...r]);
    }),
    celMethod('matches', CelScalar.STRING, [CelScalar.STRING], CelScalar.BOOL, function (pattern) {
      charge(regexCost(this, pattern), 'matches');
      return compileRegex(pattern).test(this);
    }),
    celFunc(TICK, [CelScalar.BOOL, CelScalar.INT], CelScalar.BOOL, (condition, weight) => {
      charge(Number(weight), 'comprehension');
      return condition;
    }),
    celFunc(RANGE, [CelScalar.DYN], CelScalar.DYN, (range) => {
      charge(1 + (isCelList(range) || isCelMap(range) ? range.size : 0), 'comprehension range');
      return range;
    }),
  );
  return funcs;
}

/** Child expressions of a node, in evaluation order. */
export function children(expr: Expr): Expr[] {
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'selectExpr': return kind.value.operand ? [kind.value.operand] : [];
    case 'callExpr': return [...(kind.value.target ? [kind.value.target] : []), ...kind.value.args];
    case 'listExpr': return kind.value.elements;
    case 'structExpr': return kind.value.entries.flatMap((e) => [...(e.keyKind.case === 'mapKey' ? [e.keyKind.value] : []), ...(e.value ? [e.value] : [])]);
    case 'comprehensionExpr': {
      const c = kind.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].filter((e): e is Expr => e !== undefined);
    }
    default: return [];
  }
}

export function countNodes(expr: Expr): number {
  return 1 + children(expr).reduce((n, c) => n + countNodes(c), 0);
}

/** Number of elements a range holds when the expression alone tells (literals and what is mapped from them). */
function literalSize(expr: Expr): number | undefined {
  const kind = expr.exprKind;
  if (kind.case === 'listExpr') return kind.value.elements.length;
  if (kind.case === 'structExpr' && !kind.value.messageName) return kind.value.entries.length;
  if (kind.case === 'comprehensionExpr' && kind.value.accuInit?.exprKind.case === 'listExpr' && kind.value.iterRange) {
    return literalSize(kind.value.iterRange);
  }
  return undefined;
}

/** Lower bound of the run-time cost (same units as the meter), counting literal ranges only. */
export function staticCost(expr: Expr): number {
  const kind = expr.exprKind;
  if (kind.case !== 'comprehensionExpr') return 1 + children(expr).reduce((n, c) => n + staticCost(c), 0);
  const c = kind.value;
  const size = (c.iterRange && literalSize(c.iterRange)) ?? 0;
  const body = (c.loopCondition ? staticCost(c.loopCondition) : 0) + (c.loopStep ? staticCost(c.loopStep) : 0);
  const building = c.accuInit?.exprKind.case === 'listExpr' ? (size * (size + 1)) / 2 : 0;
  return (c.iterRange ? staticCost(c.iterRange) : 0) + size * ITERATION_COST * body + building + 2;
}

/** Deepest comprehension nesting (a comprehension inside another's range, condition or step counts). */
export function comprehensionNesting(expr: Expr): number {
  const own = expr.exprKind.case === 'comprehensionExpr' ? 1 : 0;
  return own + Math.max(0, ...children(expr).map(comprehensionNesting));
}

export function depth(expr: Expr): number {
  return 1 + Math.max(0, ...children(expr).map(depth));
}

/**
 * Rewrites every comprehension so that the meter sees it: its range goes through RANGE and its loop
 * condition, evaluated once per iteration, through TICK with the node count of the loop body.
 */
export function instrumentComprehensions(root: Expr): void {
  let nextId = maxId(root) + 1n;
  const call = (fn: string, args: Expr[]): Expr =>
    create(ExprSchema, { id: nextId++, exprKind: { case: 'callExpr', value: { function: fn, args } } });
  const visit = (expr: Expr): void => {
    children(expr).forEach(visit);
    if (expr.exprKind.case !== 'comprehensionExpr') return;
    const c: Expr_Comprehension = expr.exprKind.value;
    if (!c.iterRange || !c.loopCondition || !c.loopStep) return;
    const weight = ITERATION_COST * (countNodes(c.loopCondition) + countNodes(c.loopStep));
    const weightExpr = create(ExprSchema, { id: nextId++, exprKind: { case: 'constExpr', value: { constantKind: { case: 'int64Value', value: BigInt(weight) } } } });
    c.iterRange = call(RANGE, [c.iterRange]);
    c.loopCondition = call(TICK, [c.loopCondition, weightExpr]);
  };
  visit(root);
}

function maxId(expr: Expr): bigint {
  return children(expr).reduce((max, c) => { const m = maxId(c); return m > max ? m : max; }, expr.id);
}
