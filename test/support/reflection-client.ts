/**
 * A gRPC client driven by server reflection only, as grpcurl, grpcui, evans or `buf curl` work: it asks
 * the server for its file descriptors (grpc.reflection.v1 or v1alpha), builds the message types from
 * them (@bufbuild/protobuf), parses request JSON the way protobuf JSON does (the proto field name and
 * the JSON name are both accepted, an unknown field is an error) and calls the method.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { Client, credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  createFileRegistry, fromBinary, fromJsonString, toBinary, toJson, type DescMethod, type FileRegistry, type JsonValue,
} from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type DescriptorProto, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

export type ReflectionVersion = 'v1' | 'v1alpha';

interface ReflectionResponse {
  listServicesResponse?: { service: Array<{ name: string }> };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}
interface ReflectionCall {
  on(event: 'data', cb: (m: ReflectionResponse) => void): void;
  on(event: 'error', cb: (e: ServiceError) => void): void;
  on(event: 'end', cb: () => void): void;
  write(request: Record<string, unknown>): void;
  end(): void;
}
interface ReflectionStub {
  ServerReflectionInfo(): ReflectionCall;
  close(): void;
}
type ReflectionStubConstructor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => ReflectionStub;

function reflectionStub(version: ReflectionVersion): ReflectionStubConstructor {
  const protoDir = path.join(path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '../proto');
  const pkg = loadPackageDefinition(loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [protoDir] }));
  const ns = (pkg.grpc as Record<string, Record<string, Record<string, unknown>>>).reflection[version];
  return ns.ServerReflection as unknown as ReflectionStubConstructor;
}

/** The reflection service of one server, one request per stream. */
export class ReflectionClient {
  private readonly stub: ReflectionStub;

  constructor(address: string, readonly version: ReflectionVersion = 'v1') {
    this.stub = new (reflectionStub(version))(address, credentials.createInsecure());
  }

  private ask(request: Record<string, unknown>): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const call = this.stub.ServerReflectionInfo();
      let answer: ReflectionResponse | undefined;
      call.on('data', (m) => {
        answer ??= m;
        call.end();
      });
      call.on('error', reject);
      call.on('end', () => (answer ? resolve(answer) : reject(new Error(`no reflection answer to ${JSON.stringify(request)}`))));
      call.write(request);
    });
  }

  private static files(answer: ReflectionResponse): Buffer[] {
    if (answer.errorResponse) throw new Error(`reflection error ${answer.errorResponse.errorCode}: ${answer.errorResponse.errorMessage}`);
    if (!answer.fileDescriptorResponse) throw new Error(`not a file descriptor response: ${JSON.stringify(answer)}`);
    return answer.fileDescriptorResponse.fileDescriptorProto;
  }

  async listServices(): Promise<string[]> {
    const answer = await this.ask({ listServices: '*' });
    if (!answer.listServicesResponse) throw new Error(`not a list services response: ${JSON.stringify(answer)}`);
    return answer.listServicesResponse.service.map((s) => s.name);
  }

  /** The serialized FileDescriptorProtos as served: the file declaring `symbol` first, then its imports. */
  async fileContainingSymbol(symbol: string): Promise<Buffer[]> {
    return ReflectionClient.files(await this.ask({ fileContainingSymbol: symbol }));
  }

  async fileByFilename(name: string): Promise<Buffer[]> {
    return ReflectionClient.files(await this.ask({ fileByFilename: name }));
  }

  /**
   * The file declaring `symbol` and every file it imports, decoded, by name. Imports missing from the
   * answer are asked for by file name, as grpcurl does.
   */
  async filesFor(symbol: string): Promise<{ main: FileDescriptorProto; files: Map<string, FileDescriptorProto> }> {
    const decode = (b: Buffer) => fromBinary(FileDescriptorProtoSchema, b);
    const served = (await this.fileContainingSymbol(symbol)).map(decode);
    const files = new Map(served.map((f) => [f.name, f]));
    const missing = served.flatMap((f) => f.dependency);
    while (missing.length) {
      const name = missing.pop()!;
      if (files.has(name)) continue;
      for (const f of (await this.fileByFilename(name)).map(decode)) {
        if (!files.has(f.name)) {
          files.set(f.name, f);
          missing.push(...f.dependency);
        }
      }
    }
    return { main: served[0], files };
  }

  /**
   * A registry of the types reachable from `symbol`, built from the served descriptors only. As lenient
   * as grpcurl with descriptors made by protobufjs (no imports listed, relative type names), so that
   * such a server fails here for the reason it fails in grpcurl.
   */
  async registryFor(symbol: string): Promise<FileRegistry> {
    const { main, files } = await this.filesFor(symbol);
    // protobufjs-made descriptors list no imports: like grpcurl, fall back on the files served with it.
    if (!main.dependency.length) main.dependency = [...files.keys()].filter((name) => name !== main.name);
    qualifyTypeNames([...files.values()]);
    return createFileRegistry(main, (name) => files.get(name));
  }

  close(): void {
    this.stub.close();
  }
}

/**
 * Rewrites relative type names (`AuditEvent`) to fully-qualified ones (`.audit.v1.AuditEvent`) by the
 * C++ scoping rules protoc and Go's protodesc apply: innermost scope first, then outwards.
 */
function qualifyTypeNames(files: FileDescriptorProto[]): void {
  const known = new Set<string>();
  const collect = (scope: string, messages: DescriptorProto[], enums: Array<{ name: string }>): void => {
    for (const e of enums) known.add(`${scope}.${e.name}`);
    for (const m of messages) {
      known.add(`${scope}.${m.name}`);
      collect(`${scope}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  const prefix = (f: FileDescriptorProto): string => (f.package ? `.${f.package}` : '');
  for (const f of files) collect(prefix(f), f.messageType, f.enumType);
  const resolve = (scope: string, name: string): string => {
    if (!name || name.startsWith('.')) return name;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      if (known.has(`${s}.${name}`)) return `${s}.${name}`;
      if (!s) return name;
    }
  };
  const visit = (scope: string, messages: DescriptorProto[]): void => {
    for (const m of messages) {
      const inner = `${scope}.${m.name}`;
      for (const field of [...m.field, ...m.extension]) field.typeName = resolve(inner, field.typeName);
      visit(inner, m.nestedType);
    }
  };
  for (const f of files) {
    visit(prefix(f), f.messageType);
    for (const service of f.service) {
      for (const method of service.method) {
        method.inputType = resolve(prefix(f), method.inputType);
        method.outputType = resolve(prefix(f), method.outputType);
      }
    }
  }
}

const identity = (b: Buffer): Buffer => b;

export interface DynamicCallResult {
  /** The responses, as proto JSON. */
  responses: JsonValue[];
}

/** Calls any method of the server from a JSON request, knowing nothing but what reflection tells. */
export class DynamicClient {
  private readonly reflection: ReflectionClient;
  private readonly client: Client;

  constructor(address: string, version: ReflectionVersion = 'v1') {
    this.reflection = new ReflectionClient(address, version);
    this.client = new Client(address, credentials.createInsecure());
  }

  get reflect(): ReflectionClient {
    return this.reflection;
  }

  /** The method `pkg.Service/Method` (or `pkg.Service.Method`), described by reflection. */
  async method(name: string): Promise<DescMethod> {
    const match = /^([\w.]+)[/.](\w+)$/.exec(name);
    if (!match) throw new Error(`not a method name: ${name}`);
    const [, serviceName, methodName] = match;
    const registry = await this.reflection.registryFor(serviceName);
    const service = registry.getService(serviceName);
    if (!service) throw new Error(`reflection does not describe ${serviceName}`);
    const method = service.methods.find((m) => m.name === methodName);
    if (!method) throw new Error(`${serviceName} has no method ${methodName}`);
    return method;
  }

  /**
   * Parses `json` as protobuf JSON into the method's request type, calls the method and decodes the
   * responses. A server stream is read to its end, or with `firstOnly` cancelled after its first message
   * (for a stream that stays open, like Subscribe). Rejects with the gRPC status of a failed call.
   */
  async call(name: string, json: string, options: { firstOnly?: boolean } = {}): Promise<DynamicCallResult> {
    const method = await this.method(name);
    const request = Buffer.from(toBinary(method.input, fromJsonString(method.input, json)));
    const decode = (b: Buffer): JsonValue => toJson(method.output, fromBinary(method.output, b));
    const grpcPath = `/${method.parent.typeName}/${method.name}`;
    switch (method.methodKind) {
      case 'unary':
        return new Promise((resolve, reject) => {
          this.client.makeUnaryRequest(grpcPath, identity, identity, request, (err: ServiceError | null, response?: Buffer) =>
            err ? reject(err) : resolve({ responses: [decode(response!)] }));
        });
      case 'server_streaming':
        return new Promise((resolve, reject) => {
          const responses: JsonValue[] = [];
          const call = this.client.makeServerStreamRequest(grpcPath, identity, identity, request);
          let settled = false;
          call.on('data', (m: Buffer) => {
            responses.push(decode(m));
            if (options.firstOnly && !settled) {
              settled = true;
              call.cancel();
              resolve({ responses });
            }
          });
          call.on('error', (err: ServiceError) => {
            if (!settled) reject(err);
          });
          call.on('status', (s: { code: number }) => {
            if (!settled && s.code === 0) resolve({ responses });
          });
        });
      default:
        throw new Error(`${name}: ${method.methodKind} calls are not supported here`);
    }
  }

  close(): void {
    this.reflection.close();
    this.client.close();
  }
}
