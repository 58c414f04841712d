import fs from 'node:fs';
import { type ClientReadableStream, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';
import { channelCredentials as libraryCredentials, type ConnectionOptions, grpcClientOptions } from '../client/connection.js';
import type { ConnectionFlags } from './options.js';
import { UsageError } from './usage.js';

export { EXIT, UsageError } from './usage.js';

/**
 * The one place the CLI turns its connection flags into a connection: every command connects through
 * `connect`, `healthClient` or (publish, tail) the client library with `connectionOptions`, so
 * --tls/--cacert/--cert/--key and --token (AUDITSTREAM_TOKEN) apply to all of them. The TLS and token
 * mechanics are the client library's (src/client/connection.ts); reading the files and the messages
 * about flags are the CLI's.
 */

function pem(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** The library's TLS option for the flags: none, the system's roots (--tls), or --cacert and/or --cert/--key read from their files. */
function tlsOptions(f: ConnectionFlags): ConnectionOptions['tls'] {
  if ((f.cert === undefined) !== (f.key === undefined)) throw new UsageError('--cert and --key go together (a client certificate for mutual TLS)');
  if (!f.tls && f.cacert === undefined && f.cert === undefined) return undefined;
  if (f.cacert === undefined && f.cert === undefined) return true;
  return {
    ca: f.cacert === undefined ? undefined : pem(f.cacert, '--cacert'),
    cert: f.cert === undefined ? undefined : pem(f.cert, '--cert'),
    key: f.key === undefined ? undefined : pem(f.key, '--key'),
  };
}

/** The token as it goes on the wire; "Bearer x" (as copied from an HTTP header) is taken as x. */
function bearerToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const bare = token.trim().replace(/^Bearer\s+/i, '');
  if (bare === '') return undefined;
  if (/\s/.test(bare)) throw new UsageError('--token: a token has no spaces in it');
  return bare;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;
let warned = false;

/** The client library's connection options for the flags (warning once when a token would travel in clear). */
export function connectionOptions(f: ConnectionFlags): ConnectionOptions {
  const tls = tlsOptions(f);
  const token = bearerToken(f.token);
  if (token !== undefined && tls === undefined && !LOOPBACK.test(f.server) && !warned) {
    warned = true;
    process.stderr.write(`warning: sending the token to ${f.server} without TLS (add --tls or --cacert)\n`);
  }
  return { address: f.server, tls, token };
}

/** An AuditService client for the connection flags. */
export function connect(f: ConnectionFlags): AuditServiceClient {
  const options = connectionOptions(f);
  return new AuditServiceClient(f.server, libraryCredentials(options.tls), grpcClientOptions(options));
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
  const options = connectionOptions(f);
  return new Health(f.server, libraryCredentials(options.tls), grpcClientOptions(options)) as unknown as HealthClient;
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
