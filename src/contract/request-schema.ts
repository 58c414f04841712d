/**
 * The request check's schema: message descriptors (from @grpc/proto-loader) compiled into what the
 * byte walker in request-wire.ts needs per field: its kind, wire type, name and whether it is an item.
 */

/** A field descriptor as @grpc/proto-loader gives it (keepCase: true): only what the check needs. */
export interface FieldDescriptorLike {
  readonly name: string;
  readonly number: number;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

export interface MessageDescriptorLike {
  readonly name: string;
  readonly field: readonly FieldDescriptorLike[];
  readonly nestedType?: readonly MessageDescriptorLike[] | undefined;
}

export type Scalar =
  | 'string' | 'bytes' | 'bool' | 'enum' | 'int32' | 'uint32' | 'sint32' | 'int64' | 'uint64' | 'sint64'
  | 'fixed32' | 'sfixed32' | 'float' | 'fixed64' | 'sfixed64' | 'double';

export interface FieldSpec {
  readonly name: string;
  /** ts-proto's property name (lowerCamelCase). */
  readonly property: string;
  readonly repeated: boolean;
  readonly kind: Scalar | 'message';
  /** Index among this message's fields, for per-field occurrence counts. */
  readonly slot: number;
  /** A message field of an item type (see compileSchema). */
  item: boolean;
  message?: MessageSpec | undefined;
}

type Special = 'struct' | 'value' | 'list' | 'timestamp';

export interface MessageSpec {
  readonly fullName: string;
  readonly fields: Map<number, FieldSpec>;
  readonly special?: Special | undefined;
}

const SPECIAL: Record<string, Special> = {
  'google.protobuf.Struct': 'struct',
  'google.protobuf.Value': 'value',
  'google.protobuf.ListValue': 'list',
  'google.protobuf.Timestamp': 'timestamp',
};

const SCALARS: Record<string, Scalar> = {
  TYPE_STRING: 'string', TYPE_BYTES: 'bytes', TYPE_BOOL: 'bool', TYPE_ENUM: 'enum', TYPE_INT32: 'int32',
  TYPE_UINT32: 'uint32', TYPE_SINT32: 'sint32', TYPE_INT64: 'int64', TYPE_UINT64: 'uint64', TYPE_SINT64: 'sint64',
  TYPE_FIXED32: 'fixed32', TYPE_SFIXED32: 'sfixed32', TYPE_FLOAT: 'float', TYPE_FIXED64: 'fixed64',
  TYPE_SFIXED64: 'sfixed64', TYPE_DOUBLE: 'double',
};

/** The wire type each kind is sent with (repeated numeric fields may also come packed, as 2). */
export function wireTypeOf(kind: Scalar | 'message'): number {
  switch (kind) {
    case 'string': case 'bytes': case 'message': return 2;
    case 'fixed32': case 'sfixed32': case 'float': return 5;
    case 'fixed64': case 'sfixed64': case 'double': return 1;
    default: return 0;
  }
}

export const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'start-group', 'end-group', '32-bit', '6', '7'];

function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Compiles message descriptors (full name to descriptor, nested types included) into the check's
 * schema. Fields of the checked message itself whose type is one of `itemTypes` are items (AuditEvent
 * in PublishRequest and PublishBatchRequest): a problem inside one does not fail the request but is
 * attached to that item, so a batch rejects only the bad event, after authorization, counted like any
 * invalid event.
 */
export function compileSchema(messages: ReadonlyMap<string, MessageDescriptorLike>, itemTypes: readonly string[] = []): Map<string, MessageSpec> {
  const all = new Map<string, MessageDescriptorLike>();
  const collect = (fullName: string, d: MessageDescriptorLike): void => {
    all.set(fullName, d);
    for (const nested of d.nestedType ?? []) collect(`${fullName}.${nested.name}`, nested);
  };
  for (const [name, d] of messages) collect(name, d);
  /** Protobuf scoping: a relative name is looked up from the innermost enclosing scope outwards. */
  const resolve = (scope: string, typeName: string): string | undefined => {
    if (typeName.startsWith('.')) return all.has(typeName.slice(1)) ? typeName.slice(1) : undefined;
    const parts = scope.split('.');
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), typeName].join('.');
      if (all.has(candidate)) return candidate;
    }
    return undefined;
  };
  const specs = new Map<string, MessageSpec>();
  const links: Array<[FieldSpec, string]> = [];
  for (const [fullName, d] of all) {
    const fields = new Map<number, FieldSpec>();
    d.field.forEach((f, slot) => {
      const kind = f.type === 'TYPE_MESSAGE' ? 'message' : SCALARS[f.type];
      if (!kind) throw new Error(`${fullName}.${f.name}: field type ${f.type} is not supported by the request check`);
      const spec: FieldSpec = { name: f.name, property: camelCase(f.name), repeated: f.label === 'LABEL_REPEATED', kind, slot, item: false };
      if (kind === 'message') {
        const target = resolve(fullName, f.typeName);
        if (!target) throw new Error(`${fullName}.${f.name}: unknown message type ${f.typeName}`);
        spec.item = itemTypes.includes(target);
        links.push([spec, target]);
      }
      fields.set(f.number, spec);
    });
    const special = SPECIAL[fullName];
    specs.set(fullName, special ? { fullName, fields, special } : { fullName, fields });
  }
  for (const [field, target] of links) {
    const message = specs.get(target);
    if (!message) throw new Error(`${field.name}: message type ${target} has no schema`);
    field.message = message;
  }
  return specs;
}
