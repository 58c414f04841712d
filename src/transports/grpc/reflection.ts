import type { Server } from '@grpc/grpc-js';
import type { EnumTypeDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What `make proto` writes with `buf build` (committed; `make proto-check` fails when stale): proto/
 * (audit/v1/event.proto, audit/v1/audit_service.proto and their google/protobuf imports), and the
 * health.proto of grpc-health-check (health/v1/health.proto).
 */
export const DESCRIPTOR_SETS = ['generated/audit/v1/descriptor.binpb', 'generated/grpc/health/v1/descriptor.binpb'] as const;

/**
 * The serialized FileDescriptorProtos of a descriptor set exactly as buf built them: real file names,
 * the proto's field names with their json_name, imports, comments. Imports come before their importers.
 */
export function fileDescriptorProtos(descriptorSet: (typeof DESCRIPTOR_SETS)[number]): Buffer[] {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(resolveGenerated(descriptorSet)));
  return set.file.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
}

/**
 * Server reflection (grpc.reflection.v1 and v1alpha), as grpcurl, grpcui, Postman, evans and `buf curl`
 * read it, served from buf's descriptors. (Descriptors from proto-loader would be a synthesized file
 * `audit_v1.proto` with camelCase field names, `userId`: JSON written with the proto's names, `user_id`,
 * then fails in those clients; and with relative type names.)
 */
export function reflectionService(): ReflectionService {
  // @grpc/reflection reads nothing but `fileDescriptorProtos` of each package definition entry: it
  // decodes them, indexes their symbols and serves each file under its own name. So one entry per
  // descriptor set, shaped as proto-loader's smallest definition, hands it buf's files unchanged.
  const definition = Object.fromEntries(DESCRIPTOR_SETS.map((set): [string, EnumTypeDefinition] =>
    [set, { format: 'Protocol Buffer 3 EnumDescriptorProto', type: {}, fileDescriptorProtos: fileDescriptorProtos(set) }]));
  return new ReflectionService(definition);
}

export function addReflection(server: Server): void {
  reflectionService().addToServer(server);
}

/** A file of generated/, found from src/ (tsx) and from dist/src/ (compiled) alike. */
function resolveGenerated(relative: string): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${relative} not found: run make proto`);
}
