import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { AuditServiceServer } from '../../../generated/audit/v1/audit_service.js';
import { EVENT_TYPES, SEVERITIES, typeInfo } from '../../domain/catalog.js';
import { AppError, isAppError } from '../../domain/errors.js';
import type { Security } from '../../security/security.js';
import { certificateSubjectOf, credentialsOf, tokenOf, type Identity } from './auth.js';
import { RPC_PREFIX, serveUnaryRpc } from './connect-unary.js';
import { track, type BridgeDeps, type WebSocketSettings } from './deps.js';
import { CloseCode, errorBody, refusalCodeFor, sendError, sendJson, sendMethodNotAllowed } from './errors.js';
import { serveEvents } from './sse.js';
import { StaticFiles } from './static-files.js';
import { closeSocket, WsConnection } from './ws-connection.js';

export const STREAM_PATH = '/v1/stream';
export const EVENTS_PATH = '/v1/events';

export interface HttpServerDeps extends BridgeDeps {
  readonly websocket: WebSocketSettings;
  /** GET /metrics: the Prometheus text format. */
  readonly metrics?: { text(): Promise<string>; readonly contentType: string } | undefined;
  /** GET /readyz: its JSON body and status (200 when ready, else 503). */
  readonly readiness?: (() => { readonly ready: boolean }) | undefined;
  readonly security: Security;
  /** TLS certificate and key (and a client CA for mutual TLS): serve HTTPS and WSS. */
  readonly tls?: { cert: Buffer; key: Buffer; ca?: Buffer | undefined } | undefined;
  /** The gRPC service's handlers, served as JSON over HTTP at POST /audit.v1.AuditService/<Method> (connect-unary.ts). */
  readonly service?: AuditServiceServer | undefined;
}

/** The event types and severities, so the viewer's filter controls need no copy of the catalog. */
const CATALOG = {
  eventTypes: EVENT_TYPES.map((name) => ({ name, category: typeInfo(name).category })),
  severities: SEVERITIES,
};

function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://localhost');
}

/** Only `Authorization: Bearer` (or a client certificate): a token in a scraped URL would end up in logs. */
const NO_QUERY = new URL('http://localhost/');

/**
 * One node:http server for everything that is not gRPC: the WebSocket bridge, SSE, health and the
 * live viewer's files.
 */
export class HttpServer {
  readonly server: Server;
  readonly connections = new Set<WsConnection>();
  port = 0;
  private readonly wss: WebSocketServer;
  private readonly web = new StaticFiles();
  private readonly eventStreams = new Set<ServerResponse>();
  /** Sockets holding one of their address's connection slots (security on): counted once per connection. */
  private readonly countedSockets = new WeakSet<object>();
  /** Upgrades between the connection-limit check and the handshake, counted against the limit. */
  private opening = 0;
  private serving = true;
  private pinger?: NodeJS.Timeout | undefined;

  constructor(private readonly deps: HttpServerDeps) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.onRequest(req, res);
    const { tls } = deps;
    this.server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: Boolean(tls.ca), rejectUnauthorized: false }, handler)
      : createServer(handler);
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: deps.websocket.max_message_size, perMessageDeflate: false });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      // A bind error as one line naming the setting.
      const fail = (err: NodeJS.ErrnoException): void => reject(
        err.code === 'EADDRINUSE' ? new Error(`server.http_port ${port} is in use`)
          : err.code === 'EACCES' ? new Error(`server.http_port ${port}: permission denied (ports below 1024 need privileges)`)
            : err.code === 'EADDRNOTAVAIL' ? new Error(`server.host ${host} is not an address of this machine`)
              : err,
      );
      this.server.once('error', fail);
      this.server.listen(port, host, () => {
        this.server.off('error', fail);
        resolve();
      });
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    this.pinger = setInterval(() => {
      const now = Date.now();
      for (const conn of this.connections) conn.checkLiveness(now);
    }, this.deps.websocket.ping_interval);
    this.pinger.unref();
    return this.port;
  }

  /** While not serving, /readyz answers 503 and new connections and streams are refused. */
  setServing(serving: boolean): void {
    this.serving = serving;
  }

  /**
   * Ends every connection: WebSocket clients get close code 4001 (reconnect and resume), event
   * streams are ended. Called after the streams have drained; whatever is left after `timeoutMs` is cut.
   */
  async close(timeoutMs: number): Promise<void> {
    this.serving = false;
    clearInterval(this.pinger);
    for (const conn of this.connections) conn.close(CloseCode.SHUTTING_DOWN, 'server shutting down, reconnect');
    for (const res of this.eventStreams) res.end();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all([...this.connections].map((c) => c.done)), deadline]);
    clearTimeout(timer);
    for (const conn of this.connections) conn.socket.terminate();
    this.server.closeAllConnections();
    await closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = requestUrl(req);
    if (url.pathname.startsWith(RPC_PREFIX)) {
      serveUnaryRpc(req, res, url.pathname, this.serving, this.deps);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendMethodNotAllowed(res);
      return;
    }
    switch (url.pathname) {
      case '/healthz':
        sendJson(res, 200, { status: 'ok' });
        return;
      case '/readyz':
        void this.serveReadiness(req, res);
        return;
      case '/metrics':
        if (this.deps.metrics) void this.serveMetrics(req, res, this.deps.metrics);
        else sendError(res, new AppError('NOT_FOUND', 'metrics are not enabled'), this.deps.log);
        return;
      case '/v1/catalog':
        sendJson(res, 200, CATALOG);
        return;
      case EVENTS_PATH:
        if (req.method === 'HEAD') sendMethodNotAllowed(res, 'GET'); // a stream with no body to carry it
        else this.openEventStream(req, res, url);
        return;
      case STREAM_PATH:
        sendError(res, new AppError('FAILED_PRECONDITION', 'this is the WebSocket endpoint: connect with a WebSocket client'), this.deps.log);
        return;
    }
    if (!this.web.serve(res, url.pathname)) sendError(res, new AppError('NOT_FOUND', `nothing is served at ${url.pathname.slice(0, 200)}`), this.deps.log);
  }

  /**
   * With security on, /metrics and the detail of /readyz are for roles admin and operator. They are
   * closed on this port by a bearer token (Prometheus: `authorization: {credentials_file: ...}` in the
   * scrape config) or a client certificate, rather than served on a separate listener: one port, one
   * TLS setup and one roles table, and nothing is open by mistake when a second listener is forgotten
   * in a firewall rule. The token goes in the Authorization header only, never the query string.
   */
  private async operatorOf(req: IncomingMessage): Promise<Identity> {
    const identity = await this.deps.security.authenticate({ token: tokenOf(req, NO_QUERY), certificateSubject: certificateSubjectOf(req) });
    this.deps.security.requireMetrics(identity);
    return identity;
  }

  /**
   * GET /readyz: 200 when ready, else 503, for load balancers, always without credentials. With
   * security on, the body is only the status unless the caller is an admin or operator; a bad or
   * missing token is not an error here, only a reason to leave the detail out.
   */
  private async serveReadiness(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let detailed = !this.deps.security.settings.enabled;
    if (!detailed) detailed = await this.operatorOf(req).then(() => true, () => false);
    const details = this.deps.readiness?.();
    const ready = this.serving && (details?.ready ?? true);
    const status = ready ? 'ready' : this.serving ? 'not_ready' : 'shutting_down';
    sendJson(res, ready ? 200 : 503, detailed ? { status, ...details } : { status });
  }

  private async serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: NonNullable<HttpServerDeps['metrics']>): Promise<void> {
    try {
      if (this.deps.security.settings.enabled) await this.operatorOf(req);
    } catch (err) {
      const body = errorBody(err, this.deps.log);
      // 401 without (valid) credentials, with the challenge RFC 6750 asks for; 403 for other roles.
      if (body.error.code === 'UNAUTHENTICATED') sendJson(res, 401, body, { 'www-authenticate': 'Bearer realm="auditstream"' });
      else sendError(res, err, this.deps.log);
      return;
    }
    try {
      const text = await metrics.text();
      res.writeHead(200, { 'content-type': metrics.contentType }).end(text);
    } catch (err) {
      sendError(res, err, this.deps.log);
    }
  }

  /** Per-address connection rate and cap, then who the caller is. */
  private async authenticate(req: IncomingMessage, url: URL): Promise<Identity> {
    const address = req.socket.remoteAddress ?? 'unknown';
    if (this.deps.security.settings.enabled) {
      this.deps.security.connectionRate.take(address);
      // One slot per connection, not per request: requests on a keep-alive connection share it, and
      // the socket gets one 'close' listener in its life (not one per request, which leaked them).
      if (!this.countedSockets.has(req.socket)) {
        const release = this.deps.security.connections.acquire(address);
        this.countedSockets.add(req.socket);
        req.socket.once('close', release);
      }
    }
    const identity = await this.deps.security.authenticate(credentialsOf(req, url));
    this.deps.security.requireRead(identity);
    return identity;
  }

  private openEventStream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const stream = (async () => {
      try {
        if (!this.serving) throw new AppError('UNAVAILABLE', 'the server is shutting down');
        const identity = await this.authenticate(req, url);
        this.eventStreams.add(res);
        res.once('close', () => this.eventStreams.delete(res));
        await serveEvents(req, res, url, identity, this.deps);
      } catch (err) {
        sendError(res, err, this.deps.log);
      }
    })();
    track(this.deps.streams, stream);
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy()); // a peer resetting mid-handshake is not our error
    const url = requestUrl(req);
    if (url.pathname !== STREAM_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const maxConnections = this.deps.websocket.max_connections;
    let identity: Identity | undefined;
    let refusal: { code: number; reason: string } | undefined;
    this.opening++;
    try {
      if (!this.serving) refusal = { code: CloseCode.SHUTTING_DOWN, reason: 'server shutting down, reconnect' };
      else if (this.connections.size + this.opening > maxConnections) {
        refusal = { code: CloseCode.TOO_MANY_CONNECTIONS, reason: `the server holds its maximum of ${maxConnections} connections; retry later` };
      } else identity = await this.authenticate(req, url);
    } catch (err) {
      // Refused after the handshake rather than with an HTTP status: a browser can read a close code.
      refusal = isAppError(err) ? { code: refusalCodeFor(err.code), reason: err.message } : { code: CloseCode.INTERNAL, reason: 'internal error' };
      if (!isAppError(err)) this.deps.log.error({ err }, 'WebSocket authentication failed');
    }
    this.opening--; // handleUpgrade completes a valid handshake synchronously, so no upgrade slips past the limit
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (refusal || !identity) {
        closeSocket(ws, refusal?.code ?? CloseCode.INTERNAL, refusal?.reason ?? 'internal error');
        return;
      }
      const conn = new WsConnection(ws, identity, this.deps, this.deps.websocket);
      this.connections.add(conn);
      void conn.done.then(() => this.connections.delete(conn));
    });
  }
}
