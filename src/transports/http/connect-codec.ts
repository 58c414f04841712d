import { isUtf8 } from 'node:buffer';
import { create, createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescMessage, type DescMethod, type JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { status } from '@grpc/grpc-js';
import { keySegment } from '../../contract/wire-problem.js';
import { AppError } from '../../domain/errors.js';
import { DESCRIPTOR_SETS, fileDescriptorProtos } from '../grpc/reflection.js';
import { AUDIT_SERVICE_NAME } from '../grpc/server.js';

/**
 * The proto JSON side of the Connect unary endpoint (connect-unary.ts): request JSON to the protobuf
 * bytes the gRPC transport would have received, and a response message's bytes to canonical proto
 * JSON, both with @bufbuild/protobuf's implementation of the proto3 JSON mapping over buf's committed
 * descriptors (the ones reflection serves). ts-proto's generated fromJSON is not used for requests:
 * it silently turns an unknown enum name into UNRECOGNIZED, a wrong type into a default, and ignores
 * unknown keys, where "stored exactly as sent, or refused" needs a refusal naming the field.
 */

const registry = createFileRegistry(create(FileDescriptorSetSchema, {
  file: fileDescriptorProtos(DESCRIPTOR_SETS[0]).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes)),
}));

const service = registry.getService(AUDIT_SERVICE_NAME);
if (!service) throw new Error(`${AUDIT_SERVICE_NAME} is missing from ${DESCRIPTOR_SETS[0]}: run make proto`);

/** The service's methods by their name in the URL path (`Publish`). */
export const METHODS: ReadonlyMap<string, DescMethod> = new Map(service.methods.map((m) => [m.name, m]));

/** `path.key`, the key quoted when it is not a plain name (paths go into ASCII-only trailers and headers). */
function join(path: string, key: string): string {
  const segment = keySegment(key);
  return segment.startsWith('[') || !path ? `${path}${segment}` : `${path}.${segment}`;
}

/**
 * The first key of `json` that is not a field of `desc` (by proto name or JSON name), as a dotted
 * path of proto names (`events[2].foo`) with the message type lacking it, looking into nested
 * messages; the well-known types (Struct, Timestamp) have their own JSON forms, checked by the parser.
 */
export function unknownField(desc: DescMessage, json: unknown, path = ''): { path: string; typeName: string } | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json) || desc.typeName.startsWith('google.protobuf.')) return undefined;
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (!field) return { path: join(path, key), typeName: desc.typeName };
    const here = join(path, field.name);
    let found: ReturnType<typeof unknownField>;
    if (field.fieldKind === 'message') found = unknownField(field.message, value, here);
    else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value)) {
      for (let i = 0; i < value.length && !found; i++) found = unknownField(field.message, value[i], `${here}[${i}]`);
    } else if (field.fieldKind === 'map' && field.mapKind === 'message' && value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) found ??= unknownField(field.message, v, join(here, k));
    }
    if (found) return found;
  }
  return undefined;
}

/** A lone UTF-16 surrogate (from a `\ud800` escape): no UTF-8 encoding exists, it would be stored as U+FFFD. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Deeper than any valid request (the request check allows 100 nested messages). */
const MAX_JSON_DEPTH = 200;

/**
 * The path of the first string (value or key, Struct metadata included) holding a lone surrogate; the
 * request check (request-wire.ts) refuses invalid UTF-8 in the bytes, and this is its JSON twin.
 */
function malformedString(json: unknown, path: string, depth = 0): string | undefined {
  if (typeof json === 'string') return LONE_SURROGATE.test(json) ? path : undefined;
  if (json === null || typeof json !== 'object') return undefined;
  if (depth > MAX_JSON_DEPTH) throw new AppError('INVALID_ARGUMENT', `the body nests more than ${MAX_JSON_DEPTH} levels deep`);
  if (Array.isArray(json)) {
    for (let i = 0; i < json.length; i++) {
      const found = malformedString(json[i], `${path}[${i}]`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const here = join(path, key);
    if (LONE_SURROGATE.test(key)) return here;
    const found = malformedString(value, here, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * A request body in proto JSON (proto field names or lowerCamelCase JSON names; enums by full name or
 * number; 64-bit integers as numbers or decimal strings) as the protobuf bytes of `desc`, which then
 * take the gRPC transport's own request check. INVALID_ARGUMENT for what is not valid proto JSON.
 */
export function jsonToBytes(desc: DescMessage, body: Buffer): Buffer {
  if (!isUtf8(body)) throw new AppError('INVALID_ARGUMENT', 'the body is not valid UTF-8');
  let json: unknown = {};
  const text = body.toString('utf8');
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new AppError('INVALID_ARGUMENT', `the body is not valid JSON (${(err as Error).message.slice(0, 120)})`);
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new AppError('INVALID_ARGUMENT', `the body must be a JSON object: the ${desc.typeName} message`);
  }
  const malformed = malformedString(json, '');
  if (malformed !== undefined) throw AppError.invalid(malformed.slice(0, 300), 'is not valid UTF-8 (a lone surrogate escape such as \\ud800)');
  const unknown = unknownField(desc, json);
  if (unknown) throw AppError.invalid(unknown.path.slice(0, 300), `unknown field: ${unknown.typeName} has no field by this name (proto or JSON name)`);
  try {
    return Buffer.from(toBinary(desc, fromJson(desc, json as JsonValue)));
  } catch (err) {
    // @bufbuild/protobuf's messages name the field and the value ("cannot decode field audit.v1.AuditEvent.entity_id from JSON: expected string, got 5").
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppError('INVALID_ARGUMENT', `the request is not a valid ${desc.typeName}: ${reason.slice(0, 300)}`);
  }
}

/** A response message's bytes as canonical proto JSON: lowerCamelCase names, enum names, 64-bit integers as strings. */
export function bytesToJson(desc: DescMessage, bytes: Uint8Array): JsonValue {
  return toJson(desc, fromBinary(desc, bytes));
}

/** A grpc-js status as Connect's error code name and HTTP status (connectrpc.com/docs/protocol#error-codes). */
const CONNECT_CODES: Record<number, readonly [string, number]> = {
  [status.CANCELLED]: ['canceled', 499],
  [status.UNKNOWN]: ['unknown', 500],
  [status.INVALID_ARGUMENT]: ['invalid_argument', 400],
  [status.DEADLINE_EXCEEDED]: ['deadline_exceeded', 504],
  [status.NOT_FOUND]: ['not_found', 404],
  [status.ALREADY_EXISTS]: ['already_exists', 409],
  [status.PERMISSION_DENIED]: ['permission_denied', 403],
  [status.RESOURCE_EXHAUSTED]: ['resource_exhausted', 429],
  [status.FAILED_PRECONDITION]: ['failed_precondition', 400],
  [status.ABORTED]: ['aborted', 409],
  [status.OUT_OF_RANGE]: ['out_of_range', 400],
  [status.UNIMPLEMENTED]: ['unimplemented', 501],
  [status.INTERNAL]: ['internal', 500],
  [status.UNAVAILABLE]: ['unavailable', 503],
  [status.DATA_LOSS]: ['data_loss', 500],
  [status.UNAUTHENTICATED]: ['unauthenticated', 401],
};

export function connectCode(code: number | undefined): { readonly name: string; readonly httpStatus: number } {
  const [name, httpStatus] = CONNECT_CODES[code ?? status.UNKNOWN] ?? ['unknown', 500];
  return { name, httpStatus };
}
