import { Client, credentials, type ServiceError } from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

/**
 * A gRPC client of audit.v1.AuditService that sends and receives raw bytes, for requests no
 * well-behaved encoder would produce. Every call settles a promise (assertions stay outside gRPC
 * callbacks, so a failed one fails the test instead of hanging it).
 */
export class RawClient {
  private readonly client: Client;

  constructor(address: string) {
    this.client = new Client(address, credentials.createInsecure());
  }

  /** A unary call: resolves with the response bytes, rejects with the status. */
  unary(method: string, request: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(`/audit.v1.AuditService/${method}`, identity, identity, request,
        (err: ServiceError | null, response?: Buffer) => (err ? reject(err) : resolve(response!)));
    });
  }

  /** A server-streaming call, read to its end: resolves with the final status (code 0 when OK). */
  serverStream(method: string, request: Buffer): Promise<ServiceError & { messages: Buffer[] }> {
    return new Promise((resolve) => {
      const messages: Buffer[] = [];
      const call = this.client.makeServerStreamRequest(`/audit.v1.AuditService/${method}`, identity, identity, request);
      call.on('data', (m: Buffer) => messages.push(m));
      call.on('error', (err: ServiceError) => resolve(Object.assign(err, { messages })));
      call.on('status', (s) => {
        if (s.code === 0) resolve(Object.assign(new Error('OK') as ServiceError, { code: 0, details: s.details, metadata: s.metadata, messages }));
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
