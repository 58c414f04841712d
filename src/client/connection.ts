import {
  type ChannelCredentials, type ChannelOptions, type ClientOptions, credentials, InterceptingCall, type Interceptor,
} from '@grpc/grpc-js';
import { AuditServiceClient } from '../../generated/audit/v1/audit_service.js';
import { isConnectionLoss } from './errors.js';

/** TLS material as PEM text or bytes (not file names: the library reads no files). */
export interface TlsOptions {
  /** The CA to trust instead of the system's roots. */
  readonly ca?: string | Buffer | undefined;
  /** A client certificate for mutual TLS; needs `key`. */
  readonly cert?: string | Buffer | undefined;
  /** The private key of `cert`. */
  readonly key?: string | Buffer | undefined;
}

/** How to reach the service, and as whom. */
export interface ConnectionOptions {
  /** One `host:port`, or several nodes of a cluster: calls move to the next when one is unreachable. */
  readonly address: string | readonly string[];
  /** TLS: `true` trusts the system's roots; an object gives a CA and/or a client certificate. Absent: plaintext. */
  readonly tls?: true | TlsOptions | undefined;
  /** A bearer token (JWT) sent as `authorization: Bearer <token>`; a function is asked on every call (token refresh). */
  readonly token?: string | (() => string) | undefined;
  /** grpc-js channel options, e.g. `{ 'grpc.keepalive_time_ms': 30_000 }`. */
  readonly channelOptions?: ChannelOptions | undefined;
}

const pem = (value: string | Buffer | undefined): Buffer | null => (value === undefined ? null : Buffer.from(value));

/** Plaintext, or TLS with the system's roots or a given CA, with a client certificate when given. */
export function channelCredentials(tls: ConnectionOptions['tls']): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if (tls === true) return credentials.createSsl();
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new TypeError('tls.cert and tls.key go together (a client certificate for mutual TLS)');
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

/**
 * Adds `authorization: Bearer <token>` to every call's metadata, asking a token function each time.
 * An interceptor rather than call credentials: grpc-js refuses call credentials on a plaintext
 * channel, and a loopback server with security on but no TLS is a setup the service supports.
 */
export function bearerInterceptor(token: string | (() => string)): Interceptor {
  return (options, nextCall) => new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${typeof token === 'function' ? token() : token}`);
      next(metadata, listener);
    },
  });
}

/**
 * The HTTP/2 flow-control window the library asks for unless channelOptions say otherwise. grpc-js's
 * default (64 KiB, with no window growth as grpc-go's BDP probing does) lets a replay send only 64 KiB
 * per round trip; measured on a replay of 1,000,000 stored events to one subscriber: 157,000 events/s
 * with 64 KiB, 236,000 with this. It is the most a slow reader has buffered on its connection.
 */
const FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

/** The grpc-js client options for a connection: the token interceptor and the channel options. */
export function grpcClientOptions(options: ConnectionOptions): ClientOptions {
  return {
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
    ...options.channelOptions,
    ...(options.token === undefined ? {} : { interceptors: [bearerInterceptor(options.token)] }),
  };
}

export interface Endpoint {
  readonly index: number;
  readonly address: string;
  readonly client: AuditServiceClient;
}

/**
 * The addresses a client may use, one grpc-js client (channel) each, made when first needed. Every
 * call goes to the current address; a connection-level failure moves the current address to the
 * next one, so a cluster client leaves a dead node and a single-node client keeps retrying its one.
 */
export class Endpoints {
  private current = 0;
  private readonly clients = new Map<number, AuditServiceClient>();
  readonly addresses: readonly string[];

  constructor(private readonly options: ConnectionOptions) {
    this.addresses = typeof options.address === 'string' ? [options.address] : [...options.address];
    if (this.addresses.length === 0) throw new TypeError('address: give at least one host:port');
    channelCredentials(options.tls); // refuse bad TLS options now, not at the first call
  }

  /** The endpoint calls go to now. */
  pick(): Endpoint {
    const index = this.current;
    const address = this.addresses[index];
    if (address === undefined) throw new RangeError(`no address at ${index}`); // current stays within addresses
    let client = this.clients.get(index);
    if (!client) {
      client = new AuditServiceClient(address, channelCredentials(this.options.tls), grpcClientOptions(this.options));
      this.clients.set(index, client);
    }
    return { index, address, client };
  }

  /** The endpoint at `index` lost its connection: move on (once, however many calls saw it fail). */
  failed(index: number): void {
    if (index === this.current) this.current = (index + 1) % this.addresses.length;
  }

  /**
   * An endpoint chooser for one retried operation: each attempt after one that lost its connection
   * goes to the next address; other retries (a rate limit) stay where they are. `lastUsed`: the
   * endpoint whose failure the operation starts from (a subscription's dropped stream).
   */
  chooser(lastUsed?: number): (attempt: number, previousError: unknown) => Endpoint {
    let last = lastUsed;
    return (attempt, previousError) => {
      if (attempt > 0 && last !== undefined && isConnectionLoss(previousError)) this.failed(last);
      const endpoint = this.pick();
      last = endpoint.index;
      return endpoint;
    };
  }

  /** Closes every channel. */
  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
