import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditServiceService, type AuditServiceServer } from '../../../generated/audit/v1/audit_service.js';
import { addReflection } from './reflection.js';
import { withCheckedRequests } from './request-decoding.js';
import { serializeQueryResponse, serializeSubscribeResponse } from './wire.js';

export const AUDIT_SERVICE_NAME = 'audit.v1.AuditService';

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
      query: { ...AuditServiceService.query, responseSerialize: serializeQueryResponse },
    }, service, { root: resolveProtoRoot(), files: ['audit/v1/audit_service.proto'], service: AUDIT_SERVICE_NAME });
    this.server.addService(checked.definition, checked.implementation);
    this.health.addToServer(this.server);
    // Reflection describes audit.v1 with buf's descriptors (real file and field names), see reflection.ts.
    addReflection(this.server);
  }

  /** With `tls`, serves TLS; with its `ca`, requires client certificates signed by it (mutual TLS). */
  async listen(host: string, port: number, tls?: { cert: Buffer; key: Buffer; ca?: Buffer | undefined }): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const credentials = tls
      ? ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], Boolean(tls.ca))
      : ServerCredentials.createInsecure();
    // A bind error as one line naming the setting, not grpc-js's "No address added out of total 1 resolved".
    const bindError = (err: Error): Error => {
      const text = `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`;
      if (text.includes('EADDRINUSE')) return new Error(`server.grpc_port ${port} is in use`);
      if (text.includes('EACCES')) return new Error(`server.grpc_port ${port}: permission denied (ports below 1024 need privileges)`);
      if (text.includes('EADDRNOTAVAIL')) return new Error(`server.host ${host} is not an address of this machine`);
      return err;
    };
    if (port !== 0) {
      // grpc-js also prints its bind failure on stderr; a plain listen on the port finds those first.
      const { createServer } = await import('node:net');
      await new Promise<void>((resolve, reject) => {
        const probe = createServer();
        probe.once('error', (err) => (bindError(err) === err ? resolve() : reject(bindError(err))));
        probe.listen(port, host, () => probe.close(() => resolve()));
      });
    }
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, bound) => (err ? reject(bindError(err)) : resolve(bound))),
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
