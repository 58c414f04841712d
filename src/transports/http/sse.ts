import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkpointJson, eventJson, gapJson, startedJson } from '../../contract/json-encoding.js';
import { asQueryError, FILTER_QUERY_PARAMETERS, filterFromQuery } from '../../contract/json-filter.js';
import { parseSequence } from '../../contract/ws-client-frames.js';
import { pumpSubscription, type StreamSink } from '../../dispatch/pump.js';
import type { Subscription } from '../../dispatch/subscription.js';
import type { Checkpoint } from '../../domain/checkpoint.js';
import { AppError } from '../../domain/errors.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { Identity } from './auth.js';
import type { BridgeDeps } from './deps.js';
import { errorBody, sendError } from './errors.js';

const ALLOWED_PARAMETERS = new Set([...FILTER_QUERY_PARAMETERS, 'after_sequence', 'after_cursor', 'access_token']);
/** How long a browser waits before reconnecting by itself (with Last-Event-ID). */
const RETRY_MS = 2_000;

/**
 * An event stream as the pump sees it: res.write() false means wait for 'drain'. Each event is its
 * own SSE message whose `id:` is its resume token (the sequence on a single node), so Last-Event-ID
 * resumes exactly; heartbeats are comments that also carry `id:` with the resume token, which moves a
 * browser's Last-Event-ID past events that did not match without showing anything.
 */
class SseSink implements StreamSink {
  constructor(
    private readonly res: ServerResponse,
    private readonly tokenAt: (sequence: number) => string,
  ) {}

  /** Also true as soon as the socket is gone, before the response's own 'close' event has run. */
  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded || this.res.socket?.destroyed === true;
  }

  sendEvents(events: StoredAuditEvent[]): boolean {
    let text = '';
    for (const event of events) text += `id: ${event.cursor ?? event.sequence}\ndata: ${eventJson(event)}\n\n`;
    return this.write(text);
  }

  sendGap(from: number, to: number): boolean {
    return this.write(`event: gap\ndata: ${JSON.stringify(gapJson(from, to))}\n\n`);
  }

  /** A comment (fires nothing) moving Last-Event-ID; with checkpoints on, an `event: checkpoint` as well. */
  sendHeartbeat(cursor: number, checkpoint?: Checkpoint): boolean {
    const signed = checkpoint ? `event: checkpoint\ndata: ${JSON.stringify(checkpointJson(checkpoint))}\n` : '';
    return this.write(`: heartbeat\n${signed}id: ${this.tokenAt(cursor)}\n\n`);
  }

  write(text: string): boolean {
    return this.closed || this.res.write(text);
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}

/**
 * Where the stream starts: Last-Event-ID (a browser reconnecting) wins over after_sequence and
 * after_cursor. A Last-Event-ID that is not a number is a cluster node's token.
 */
function startAfter(req: IncomingMessage, params: URLSearchParams): { afterSequence?: number | undefined; afterCursor?: string | undefined; cursorField?: string | undefined } {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') {
    if (/^\s*\d+\s*$/.test(header)) return { afterSequence: parseSequence(header, 'Last-Event-ID') };
    return { afterCursor: header.trim(), cursorField: 'Last-Event-ID' };
  }
  return { afterSequence: parseSequence(params.get('after_sequence') ?? undefined, 'after_sequence'), afterCursor: params.get('after_cursor') ?? undefined };
}

function open(req: IncomingMessage, url: URL, identity: Identity, deps: BridgeDeps): Subscription {
  for (const name of url.searchParams.keys()) {
    if (!ALLOWED_PARAMETERS.has(name)) {
      throw AppError.invalid(name, `unknown query parameter; expected ${[...ALLOWED_PARAMETERS].join(', ')}`);
    }
  }
  const filter = filterFromQuery(url.searchParams, deps.limits);
  const start = startAfter(req, url.searchParams);
  try {
    return deps.dispatcher.subscribe({
      filter, ...start, clientName: identity.identity.subject, transport: 'sse',
      viewer: deps.security.viewer(identity), owner: identity.identity.subject,
    });
  } catch (err) {
    throw asQueryError(err);
  }
}

/**
 * GET /v1/events: a filtered, resumable event stream. Errors before the stream starts are HTTP
 * statuses with a JSON body; once it runs, it ends with an `end` event naming the reason.
 */
export async function serveEvents(req: IncomingMessage, res: ServerResponse, url: URL, identity: Identity, deps: BridgeDeps): Promise<void> {
  let sub: Subscription;
  const release = deps.security.holdSubscription(identity);
  try {
    sub = open(req, url, identity, deps);
  } catch (err) {
    release();
    sendError(res, err, deps.log);
    return;
  }
  const sink = new SseSink(res, (sequence) => sub.tokenAt(sequence));
  res.on('close', () => sub.end('cancelled')); // wakes the pump if it is waiting for events
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no', // tell proxies not to hold events back
  });
  const cursor = sub.deliveredCursor;
  const token = sub.tokenAt(cursor);
  sink.write(`retry: ${RETRY_MS}\nevent: subscribed\nid: ${token}\ndata: ${JSON.stringify(startedJson(sub.id, cursor, token))}\n\n`);
  try {
    const reason = await pumpSubscription(sub, sink, deps.pump);
    // completed / unsubscribed: a client should close its EventSource; shutdown: let it reconnect.
    if (reason !== 'cancelled') sink.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
  } catch (err) {
    sink.write(`event: end\ndata: ${JSON.stringify({ reason: 'error', ...errorBody(err, deps.log) })}\n\n`);
  } finally {
    release();
    deps.dispatcher.release(sub);
    res.end();
  }
}
