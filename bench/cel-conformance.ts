/**
 * Pass rate of CEL evaluators against the official cel-spec conformance files (@bufbuild/cel-spec).
 * Run: npx tsx bench/cel-conformance.ts
 *
 * @bufbuild/cel (the evaluator src/filtering/cel.ts uses) is run the way its own repository runs the
 * suite (packages/cel/src/testing.ts in bufbuild/cel-es: parse, plan, strings extension, proto
 * bindings), but without its list of known failures: every test counts. The previous evaluator,
 * @marcbachmann/cel-js, is run only when installed (`npm install --no-save @marcbachmann/cel-js@8.0.0`),
 * through a plain-JS adapter; it has no protobuf messages, so tests that need them fail for it.
 * A test expecting an evaluation error passes when the evaluator reports any error.
 */
import {
  celList, celMap, celUint, isCelError, isCelList, isCelMap, isCelType, isCelUint, objectType, parse, plan,
  celEnv, CelScalar, listType, mapType, type CelInput, type CelValue,
} from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Value } from '@bufbuild/cel-spec/cel/expr/value_pb.js';
import { ValueSchema } from '@bufbuild/cel-spec/cel/expr/value_pb.js';
import type { SimpleTest } from '@bufbuild/cel-spec/cel/expr/conformance/test/simple_pb.js';
import { getTestRegistry } from '@bufbuild/cel-spec/testdata/registry.js';
import { getConformanceSuite, type IncrementalTestSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import { create, equals, type MessageInitShape } from '@bufbuild/protobuf';
import { anyPack, anyUnpack, NullValue } from '@bufbuild/protobuf/wkt';
import { isReflectMessage } from '@bufbuild/protobuf/reflect';

/** Runs one test; true when the evaluator gives the expected result. */
type Runner = (test: SimpleTest) => boolean;

const registry = getTestRegistry();

function expectsError(test: SimpleTest): boolean {
  return test.resultMatcher.case === 'evalError' || test.resultMatcher.case === 'anyEvalErrors';
}

/** The expected value: `value`, the value of `typedResult`, or true when the test names none. */
function expectedValue(test: SimpleTest): Value | undefined {
  switch (test.resultMatcher.case) {
    case 'value': return test.resultMatcher.value;
    case 'typedResult': return test.resultMatcher.value.result;
    case undefined: return create(ValueSchema, { kind: { case: 'boolValue', value: true } });
    default: return undefined;
  }
}

// ---- @bufbuild/cel -------------------------------------------------------------------------

function bufInput(value: Value): CelInput {
  const kind = value.kind;
  switch (kind.case) {
    case 'nullValue': return null;
    case 'uint64Value': return celUint(kind.value);
    case 'enumValue': return BigInt(kind.value.value);
    case 'listValue': return celList(kind.value.values.map(bufInput));
    case 'mapValue': {
      const map = new Map<string, CelInput>();
      for (const entry of kind.value.entries) map.set(bufInput(entry.key!) as string, bufInput(entry.value!));
      return celMap(map);
    }
    case 'objectValue': {
      const unpacked = anyUnpack(kind.value, registry);
      if (!unpacked) throw new Error(`unknown message ${kind.value.typeUrl}`);
      return unpacked;
    }
    case 'typeValue': return bufType(kind.value);
    case undefined: throw new Error('empty value');
    default: return kind.value;
  }
}

function bufType(name: string): CelInput {
  const scalars: Record<string, CelInput> = {
    int: CelScalar.INT, uint: CelScalar.UINT, double: CelScalar.DOUBLE, bool: CelScalar.BOOL, string: CelScalar.STRING,
    bytes: CelScalar.BYTES, list: listType(CelScalar.DYN), map: mapType(CelScalar.DYN, CelScalar.DYN),
    null_type: CelScalar.NULL, type: CelScalar.TYPE,
  };
  const message = registry.getMessage(name);
  if (scalars[name] === undefined && !message) throw new Error(`unknown type ${name}`);
  return scalars[name] ?? objectType(message!);
}

function bufOutput(value: CelValue): Value {
  const v = (kind: NonNullable<MessageInitShape<typeof ValueSchema>['kind']>): Value => create(ValueSchema, { kind });
  switch (typeof value) {
    case 'number': return v({ case: 'doubleValue', value });
    case 'boolean': return v({ case: 'boolValue', value });
    case 'bigint': return v({ case: 'int64Value', value });
    case 'string': return v({ case: 'stringValue', value });
  }
  if (value === null) return v({ case: 'nullValue', value: NullValue.NULL_VALUE });
  if (value instanceof Uint8Array) return v({ case: 'bytesValue', value });
  if (isCelUint(value)) return v({ case: 'uint64Value', value: value.value });
  if (isCelType(value)) return v({ case: 'typeValue', value: value.name });
  if (isCelList(value)) return v({ case: 'listValue', value: { values: Array.from(value, bufOutput) } });
  if (isCelMap(value)) {
    const entries = Array.from(value.entries(), ([key, val]) => ({ key: bufOutput(key as CelValue), value: bufOutput(val) }));
    return v({ case: 'mapValue', value: { entries: sortEntries(entries) } });
  }
  if (isReflectMessage(value)) return v({ case: 'objectValue', value: anyPack(value.desc, value.message) });
  throw new Error(`unexpected result ${String(value)}`);
}

/** Map entries in a canonical order so that equal maps compare equal. */
function sortEntries<E extends { key?: Value }>(entries: E[]): E[] {
  const keyOf = (e: E) => `${e.key?.kind.case}:${String(e.key?.kind.value)}`;
  return entries.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

function canonical(value: Value): Value {
  if (value.kind.case === 'mapValue') {
    value.kind.value.entries = sortEntries(value.kind.value.entries.map((e) => ({ ...e, value: e.value && canonical(e.value) })));
  } else if (value.kind.case === 'listValue') {
    value.kind.value.values = value.kind.value.values.map(canonical);
  }
  return value;
}

const runBuf: Runner = (test) => {
  const env = celEnv({ registry, namespace: test.container, funcs: strings });
  const bindings: Record<string, CelInput> = {};
  for (const [name, binding] of Object.entries(test.bindings)) {
    if (binding.kind.case !== 'value') return false;
    bindings[name] = bufInput(binding.kind.value);
  }
  const result = plan(env, parse(test.expr))(bindings);
  if (expectsError(test)) return isCelError(result);
  const expected = expectedValue(test);
  if (!expected || isCelError(result)) return false;
  return equals(ValueSchema, bufOutput(result), canonical(expected), { registry, unpackAny: true });
};

// ---- @marcbachmann/cel-js (optional) ------------------------------------------------------

interface MarcbachmannModule {
  Environment: new (opts: object) => { evaluate(expression: string, context: object): unknown };
}

/** A JSON-able form of a plain JS value, so results and expectations compare as strings. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return { int: value.toString() };
  if (typeof value === 'number') return { double: Number.isNaN(value) ? 'NaN' : String(value) };
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date) return { timestamp: value.toISOString() };
  const name = value.constructor?.name;
  if (name === 'UnsignedInteger' || name === 'UnsignedInt') return { uint: String((value as { value: unknown }).value) };
  if (name === 'Type') return { type: String(value).replace(/^Type<(.*)>$/, '$1') };
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return { map: entries.map(([k, v]) => [JSON.stringify(plain(k)), plain(v)]).sort(([a], [b]) => String(a).localeCompare(String(b))) };
}

/** The conformance Value as the plain JS value cel-js uses (and `plain` of it for expectations). */
function jsValue(value: Value): unknown {
  const kind = value.kind;
  switch (kind.case) {
    case 'nullValue': return null;
    case 'int64Value': return kind.value;
    case 'uint64Value': return { uintValue: kind.value };
    case 'doubleValue': case 'stringValue': case 'boolValue': case 'bytesValue': return kind.value;
    case 'listValue': return kind.value.values.map(jsValue);
    case 'mapValue': return new Map(kind.value.entries.map((e) => [jsValue(e.key!), jsValue(e.value!)]));
    case 'typeValue': return { typeName: kind.value };
    default: throw new Error(`no plain JS form for ${kind.case}`);
  }
}

function plainExpected(value: Value): unknown {
  const kind = value.kind;
  switch (kind.case) {
    case 'uint64Value': return { uint: kind.value.toString() };
    case 'typeValue': return { type: kind.value };
    case 'listValue': return kind.value.values.map(plainExpected);
    case 'mapValue':
      return { map: kind.value.entries.map((e) => [JSON.stringify(plainExpected(e.key!)), plainExpected(e.value!)]).sort(([a], [b]) => String(a).localeCompare(String(b))) };
    default: return plain(jsValue(value));
  }
}

function marcbachmannRunner(lib: MarcbachmannModule): Runner {
  return (test) => {
    const env = new lib.Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false, enableOptionalTypes: true });
    let result: unknown;
    try {
      const bindings: Record<string, unknown> = {};
      for (const [name, binding] of Object.entries(test.bindings)) {
        if (binding.kind.case !== 'value') return false;
        const input = jsValue(binding.kind.value);
        bindings[name] = input instanceof Map && [...input.keys()].every((k) => typeof k === 'string') ? Object.fromEntries(input) : input;
      }
      result = env.evaluate(test.expr, bindings);
    } catch {
      return expectsError(test);
    }
    const expected = expectedValue(test);
    if (expectsError(test) || !expected) return false;
    try {
      return JSON.stringify(plain(result)) === JSON.stringify(plainExpected(expected));
    } catch {
      return false;
    }
  };
}

// ---- report -------------------------------------------------------------------------------

function tally(suite: IncrementalTestSuite, run: Runner): { passed: number; total: number } {
  let passed = 0;
  let total = 0;
  for (const t of suite.tests) {
    total++;
    try {
      if (run(t.original)) passed++;
    } catch {
      // a throw is a failure of that one test
    }
  }
  for (const child of suite.suites) {
    const sub = tally(child, run);
    passed += sub.passed;
    total += sub.total;
  }
  return { passed, total };
}

const percent = (passed: number, total: number) => (total ? `${((100 * passed) / total).toFixed(1)}%` : '-');

async function candidates(): Promise<Array<[string, Runner]>> {
  const found: Array<[string, Runner]> = [['@bufbuild/cel 0.6.1', runBuf]];
  const oldName = '@marcbachmann/cel-js';
  try {
    const lib = (await import(oldName)) as MarcbachmannModule;
    found.push([`${oldName} (old)`, marcbachmannRunner(lib)]);
  } catch {
    console.error(`${oldName} is not installed: measuring @bufbuild/cel only`);
  }
  return found;
}

/** Files of CEL extensions (cel-go's ext packages, optionals, two-variable macros), not of the core language. */
const isExtension = (file: string) => file.endsWith('_ext') || file === 'optionals' || file === 'macros2';

const files = getConformanceSuite().suites.filter((s) => s.tests.length + s.suites.length > 0);
const runners = await candidates();
const totals = { all: runners.map(() => ({ passed: 0, total: 0 })), core: runners.map(() => ({ passed: 0, total: 0 })) };
const row = (label: string, sums: Array<{ passed: number; total: number }>) =>
  `| ${label} | ${sums[0].total} | ${sums.map((t) => `**${t.passed} (${percent(t.passed, t.total)})**`).join(' | ')} |`;
console.log(`| file | tests | ${runners.map(([name]) => name).join(' | ')} |`);
console.log(`| --- | ---: | ${runners.map(() => '---:').join(' | ')} |`);
for (const file of files) {
  const cells = runners.map(([, run], i) => {
    const { passed, total } = tally(file, run);
    for (const sums of isExtension(file.name) ? [totals.all] : [totals.all, totals.core]) {
      sums[i].passed += passed;
      sums[i].total += total;
    }
    return `${passed} (${percent(passed, total)})`;
  });
  console.log(`| ${file.name} | ${tally(file, () => true).total} | ${cells.join(' | ')} |`);
}
console.log(row('**core language** (all but *_ext, optionals, macros2)', totals.core));
console.log(row('**all files**', totals.all));
