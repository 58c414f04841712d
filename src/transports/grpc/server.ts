import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditServiceService, type AuditServiceServer } from '../../../generated/audit/v1/audit_service.js';
import { withCheckedRequests } from './request-decoding.js';
import { serializeSubscribeResponse } from './wire.js';

export const AUDIT_SERVICE_NAME = 'audit.v1.AuditService';

/** Reflection needs descriptors; proto-loader reads them from the same .proto files ts-proto compiled. */
function reflectionService(): ReflectionService {
  const healthRoot = path.resolve(path.dirname(healthProtoPath), '../..');
  const definition = loadSync(['audit/v1/audit_service.proto', 'health/v1/health.proto'], {
    includeDirs: [resolveProtoRoot(), healthRoot],
  });
  return new ReflectionService(definition);
}

/** The repository's proto/ folder, found from src/ (tsx) and from dist/src/ (compiled) alike. */
function resolveProtoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'proto', 'audit'))) return path.join(dir, 'proto');
  }
  throw new Error('proto/ folder not found');
}

export class GrpcServer {
  readonly server = new Server({ 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
  readonly health = new HealthImplementation({ '': 'NOT_SERVING', [AUDIT_SERVICE_NAME]: 'NOT_SERVING' });
  port = 0;

  constructor(service: AuditServiceServer) {
    // Every request is checked before it is decoded: bad bytes get INVALID_ARGUMENT, never INTERNAL.
    const checked = withCheckedRequests({
      ...AuditServiceService,
      subscribe: { ...AuditServiceService.subscribe, responseSerialize: serializeSubscribeResponse },
    }, service, { root: resolveProtoRoot(), files: ['audit/v1/audit_service.proto'], service: AUDIT_SERVICE_NAME });
    this.server.addService(checked.definition, checked.implementation);
    this.health.addToServer(this.server);
    reflectionService().addToServer(this.server);
  }

  /** With `tls`, serves TLS; with its `ca`, requires client certificates signed by it (mutual TLS). */
  async listen(host: string, port: number, tls?: { cert: Buffer; key: Buffer; ca?: Buffer }): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const credentials = tls
      ? ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], Boolean(tls.ca))
      : ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    this.setServing(true);
    return this.port;
  }

  setServing(serving: boolean): void {
    const state = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', state);
    this.health.setStatus(AUDIT_SERVICE_NAME, state);
  }

  /** Waits for open calls to finish, but no longer than `timeoutMs`; then cuts what is left. */
  async close(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, timeoutMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
