/**
 * node:assert/strict, as the tests have always used it, with its deep comparisons blind to realms.
 *
 * jest runs each test file in a V8 context of its own. Arrays and plain objects that Node makes outside it
 * (URLSearchParams.getAll, better-sqlite3's rows, what a worker thread posts) have that other context's
 * Array.prototype and Object.prototype, and deepStrictEqual, which compares prototypes by identity, calls
 * such an `['a']` unequal to the `['a']` a test writes. So both sides are first copied with this context's
 * prototypes in place of the other's (nothing else changes: same own properties, holes, values, and every
 * other prototype), then compared by node:assert's own deepStrictEqual.
 */
import nodeAssert from 'node:assert/strict';

/** Another realm's Array.prototype or Object.prototype: a built-in prototype that is not this context's. */
function foreign(proto: object | null, local: object): boolean {
  if (proto === null || proto === local) return false;
  const constructor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  return typeof constructor === 'function' && constructor.name === (local as { constructor: { name: string } }).constructor.name &&
    /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(constructor)) &&
    (local === Array.prototype || Object.getPrototypeOf(proto) === null);
}

/** `value` with every array and plain object (own or another realm's) copied with this context's prototypes. */
function localized(value: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  const proto = Object.getPrototypeOf(value) as object | null;
  const isArray = Array.isArray(value);
  if (!(isArray ? proto === Array.prototype || foreign(proto, Array.prototype) : proto === Object.prototype || foreign(proto, Object.prototype))) return value;
  const copy: object = isArray ? new Array((value as unknown[]).length) : {};
  seen.set(value, copy);
  for (const key of Reflect.ownKeys(value)) {
    if (isArray && key === 'length') continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    if ('value' in descriptor) descriptor.value = localized(descriptor.value, seen);
    Object.defineProperty(copy, key, descriptor);
  }
  if (!Object.isExtensible(value)) Object.preventExtensions(copy);
  return copy;
}

function deepEqual(actual: unknown, expected: unknown, message?: string | Error): void {
  try {
    nodeAssert.deepStrictEqual(localized(actual), localized(expected), message);
  } catch (err) {
    Error.captureStackTrace(err as Error, deepEqual); // the failure points at the test's line
    throw err;
  }
}

function notDeepEqual(actual: unknown, expected: unknown, message?: string | Error): void {
  try {
    nodeAssert.notDeepStrictEqual(localized(actual), localized(expected), message);
  } catch (err) {
    Error.captureStackTrace(err as Error, notDeepEqual);
    throw err;
  }
}

function ok(value: unknown, message?: string | Error): void {
  try {
    nodeAssert.ok(value, message);
  } catch (err) {
    Error.captureStackTrace(err as Error, ok);
    throw err;
  }
}

const assert: typeof nodeAssert = Object.assign(ok, nodeAssert, {
  deepEqual, deepStrictEqual: deepEqual, notDeepEqual, notDeepStrictEqual: notDeepEqual,
}) as typeof nodeAssert;

export default assert;
