import fs from 'node:fs';
import {
  type ChannelCredentials, type ClientOptions, type ClientReadableStream, credentials, InterceptingCall, type Interceptor,
  makeGenericClientConstructor, type ServiceError,
} from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';
import type { ConnectionFlags } from './options.js';
import { UsageError } from './usage.js';

export { EXIT, UsageError } from './usage.js';

/**
 * The one place the CLI makes its gRPC clients: every command connects through `connect` (or
 * `healthClient`), so --tls/--cacert/--cert/--key and --token (AUDITSTREAM_TOKEN) apply to all of them.
 */

function pem(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** Plaintext, or TLS (system roots, or --cacert; a client certificate with --cert and --key). */
export function channelCredentials(f: ConnectionFlags): ChannelCredentials {
  if ((f.cert === undefined) !== (f.key === undefined)) throw new UsageError('--cert and --key go together (a client certificate for mutual TLS)');
  if (!f.tls && f.cacert === undefined && f.cert === undefined) return credentials.createInsecure();
  return credentials.createSsl(
    f.cacert === undefined ? null : pem(f.cacert, '--cacert'),
    f.key === undefined ? null : pem(f.key, '--key'),
    f.cert === undefined ? null : pem(f.cert, '--cert'),
  );
}

/** The token as it goes on the wire; "Bearer x" (as copied from an HTTP header) is taken as x. */
function bearerToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const bare = token.trim().replace(/^Bearer\s+/i, '');
  if (bare === '') return undefined;
  if (/\s/.test(bare)) throw new UsageError('--token: a token has no spaces in it');
  return bare;
}

/**
 * Adds `authorization: Bearer <token>` to every call's metadata. An interceptor rather than call
 * credentials: grpc-js refuses call credentials on a plaintext channel, and a loopback server
 * with security on but no TLS is a setup the service supports.
 */
function withBearer(token: string): Interceptor {
  return (options, nextCall) => new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${token}`);
      next(metadata, listener);
    },
  });
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;
let warned = false;

function clientOptions(f: ConnectionFlags): ClientOptions {
  const token = bearerToken(f.token);
  if (token === undefined) return {};
  const tls = f.tls || f.cacert !== undefined || f.cert !== undefined;
  if (!tls && !LOOPBACK.test(f.server) && !warned) {
    warned = true;
    process.stderr.write(`warning: sending the token to ${f.server} without TLS (add --tls or --cacert)\n`);
  }
  return { interceptors: [withBearer(token)] };
}

/** An AuditService client for the connection flags. */
export function connect(f: ConnectionFlags): AuditServiceClient {
  return new AuditServiceClient(f.server, channelCredentials(f), clientOptions(f));
}

/** A unary call as a promise. */
export function call<Res>(start: (cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

/** Every message of a finite server stream (Query); rejects with the stream's error. */
export function drain<Res>(stream: ClientReadableStream<Res>, each: (message: Res) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('data', each);
    stream.on('error', reject);
    stream.on('end', resolve);
  });
}

export interface HealthClient {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  close(): void;
}

/** A grpc.health.v1.Health client, with the same channel and token as `connect`. */
export function healthClient(f: ConnectionFlags): HealthClient {
  const Health = makeGenericClientConstructor(healthService, 'Health');
  return new Health(f.server, channelCredentials(f), clientOptions(f)) as unknown as HealthClient;
}

/** "1h", "30m", "90s", "2d" ago, or an ISO-8601 time. */
export function parseTime(text: string, flag: string, now = Date.now()): Date {
  const relative = /^(\d+)(s|m|h|d)$/.exec(text);
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(relative[1]) * unit);
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new UsageError(`${flag}: expected a duration ago (1h, 30m) or an ISO-8601 time, got "${text}"`);
  return time;
}
