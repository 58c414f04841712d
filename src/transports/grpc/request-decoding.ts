import { Metadata, status, type ServiceDefinition, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadSync, type ServiceDefinition as LoadedService } from '@grpc/proto-loader';
import { compileSchema, type MessageDescriptorLike, type MessageSpec } from '../../contract/request-schema.js';
import { checkRequestBytes, withEmptyItems } from '../../contract/request-wire.js';
import { attachProblem, WireProblem } from '../../contract/wire-problem.js';
import { AppError } from '../../domain/errors.js';

/**
 * Request decoding that never answers INTERNAL. grpc-js calls a method's requestDeserialize and
 * answers INTERNAL ("Error deserializing request") when it throws. Here every request deserializer
 * first checks the raw bytes against the method's request schema (contract/request-wire.ts) and
 * never throws: what cannot be decoded becomes an InvalidRequest, which the wrapped handler answers
 * with INVALID_ARGUMENT before anything else runs. One generic place for every method.
 *
 * Problems inside one AuditEvent of Publish/PublishBatch are not request-level: the event decodes as
 * an empty placeholder carrying its problem, and toNewEvent reports it for that event (after
 * authorization, counted as a failed publish; in a batch the other events are still stored).
 */

/** Message types whose problems are reported per item (see compileSchema). */
const ITEM_TYPES = ['audit.v1.AuditEvent'];

/** A request that could not be decoded: the handler wrapper answers it with INVALID_ARGUMENT. */
export class InvalidRequest {
  constructor(readonly error: AppError) {}
}

interface LoadedSchema {
  /** Every message reachable from the proto files, compiled for the request check. */
  readonly messages: Map<string, MessageSpec>;
  readonly definition: ReturnType<typeof loadSync>;
}

const loaded = new Map<string, LoadedSchema>();

/** The proto files' schema, loaded once per process (servers in tests share it). */
function load(protoRoot: string, files: string[]): LoadedSchema {
  const key = `${protoRoot}\0${files.join('\0')}`;
  let schema = loaded.get(key);
  if (!schema) {
    const definition = loadSync(files, { includeDirs: [protoRoot], keepCase: true });
    const messages = new Map<string, MessageDescriptorLike>();
    for (const [name, d] of Object.entries(definition)) {
      if ('format' in d && d.format === 'Protocol Buffer 3 DescriptorProto') {
        messages.set(name, d.type as unknown as MessageDescriptorLike);
      }
    }
    schema = { messages: compileSchema(messages, ITEM_TYPES), definition };
    loaded.set(key, schema);
  }
  return schema;
}

/** The request type's full name of each method, by path (request types live in the service's package). */
function requestTypes(definition: LoadedSchema['definition'], serviceName: string): Map<string, string> {
  const service = definition[serviceName] as LoadedService | undefined;
  if (!service) throw new Error(`service ${serviceName} not found in the proto files`);
  const pkg = serviceName.slice(0, serviceName.lastIndexOf('.'));
  const names = new Map<string, string>();
  for (const method of Object.values(service)) {
    const name = (method.requestType.type as unknown as MessageDescriptorLike).name;
    names.set(method.path, `${pkg}.${name}`);
  }
  return names;
}

/** AppErrors for the client; `typeName` names the request type in messages about malformed bytes. */
function toAppError(problem: WireProblem, typeName: string, prefix = ''): AppError {
  const path = prefix && problem.path ? (problem.path.startsWith('[') ? `${prefix}${problem.path}` : `${prefix}.${problem.path}`) : prefix || problem.path;
  if (problem.framing) {
    return new AppError('INVALID_ARGUMENT', `the request is not a valid ${typeName}: ${path ? `${path}: ` : ''}${problem.message}`);
  }
  return path ? AppError.invalid(path, problem.message) : new AppError('INVALID_ARGUMENT', `the request is not a valid ${typeName}: ${problem.message}`);
}

/**
 * A deserializer that checks the bytes as `spec`, then decodes them with ts-proto's `decode`; it
 * returns an InvalidRequest instead of throwing.
 */
export function checkedDeserializer<T extends object>(spec: MessageSpec, decode: (bytes: Buffer) => T): (bytes: Buffer) => T | InvalidRequest {
  return (bytes) => {
    try {
      const items = checkRequestBytes(bytes, spec);
      if (items.length === 0) return decode(bytes);
      const request = decode(Buffer.from(withEmptyItems(bytes, items))) as Record<string, unknown>;
      for (const item of items) {
        const value = request[item.field.property];
        const decoded = item.field.repeated ? (value as object[])[item.index] : value;
        if (typeof decoded !== 'object' || decoded === null) throw new Error(`the placeholder for ${item.field.name} is missing`);
        attachProblem(decoded, item.problem);
      }
      return request as T;
    } catch (err) {
      if (err instanceof WireProblem) return new InvalidRequest(toAppError(err, spec.fullName));
      // Not expected after the check; still a client's bad bytes, never INTERNAL.
      const reason = err instanceof Error ? err.message : String(err);
      return new InvalidRequest(new AppError('INVALID_ARGUMENT', `the request is not a valid ${spec.fullName}: ${reason}`));
    }
  };
}

function statusOf(error: AppError): Partial<ServiceError> {
  const metadata = new Metadata();
  if (error.field) metadata.set('invalid-field', error.field);
  return { code: status.INVALID_ARGUMENT, details: error.message, metadata };
}

/**
 * The service definition with checked request deserializers, and the implementation with each
 * handler answering an InvalidRequest with INVALID_ARGUMENT before it runs. Unary and
 * server-streaming methods (all of ours); a client-streaming method is left as it is.
 */
export function withCheckedRequests<D extends ServiceDefinition, I extends UntypedServiceImplementation>(
  definition: D,
  implementation: I,
  proto: { root: string; files: string[]; service: string },
): { definition: D; implementation: I } {
  const { messages, definition: loadedDefinition } = load(proto.root, proto.files);
  const types = requestTypes(loadedDefinition, proto.service);
  const checkedDefinition: Record<string, unknown> = { ...definition };
  const checkedImplementation: Record<string, unknown> = { ...implementation };
  for (const [key, method] of Object.entries(definition)) {
    if (method.requestStream) continue;
    const typeName = types.get(method.path);
    const spec = typeName ? messages.get(typeName) : undefined;
    if (!spec) throw new Error(`no request schema for ${method.path}`);
    checkedDefinition[key] = { ...method, requestDeserialize: checkedDeserializer(spec, method.requestDeserialize as (b: Buffer) => object) };
    const handler = implementation[key] as ((call: never, callback?: never) => void) | undefined;
    if (!handler) continue;
    checkedImplementation[key] = method.responseStream
      ? (call: { request: unknown; emit(event: 'error', err: Partial<ServiceError>): void }) => {
        if (call.request instanceof InvalidRequest) call.emit('error', statusOf(call.request.error));
        else handler(call as never);
      }
      : (call: { request: unknown }, callback: (err: Partial<ServiceError>) => void) => {
        if (call.request instanceof InvalidRequest) callback(statusOf(call.request.error));
        else handler(call as never, callback as never);
      };
  }
  return { definition: checkedDefinition as D, implementation: checkedImplementation as I };
}
