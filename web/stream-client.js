// The viewer's side of the WebSocket bridge (README, "WebSocket frames"): one connection, one
// subscription at a time, automatic reconnect that resumes after the last sequence seen. Sequences and
// cursors arrive as decimal strings (canonical proto JSON for uint64): they are compared as BigInt, so
// they stay exact beyond 2^53, and sent back as strings.

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** Close codes from 4400 on mean "fix the request first": reconnecting would fail the same way. */
const NO_RECONNECT_FROM = 4400;

export class StreamClient {
  /**
   * @param {object} handlers
   * @param {(events: object[]) => void} handlers.onEvents events in sequence order
   * @param {(state: string, detail?: string) => void} handlers.onStatus connecting, live, reconnecting, closed
   * @param {(error: {code: string, message: string, field?: string}) => void} handlers.onError
   * @param {(cursor: string) => void} handlers.onCursor the highest sequence delivered, as a decimal string
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.filter = {};
    this.subscriptionCount = 0;
    this.currentId = undefined;
    /** Highest sequence known delivered (a BigInt): resume after it on reconnect. Undefined until subscribed. */
    this.cursor = undefined;
    this.failures = 0;
    this.socket = undefined;
    this.retryTimer = undefined;
  }

  start() {
    this.connect();
  }

  /** A new filter starts a new subscription, live from now (or from the filter's start time). */
  setFilter(filter) {
    this.filter = filter;
    this.cursor = undefined;
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    if (this.currentId) this.send({ type: 'unsubscribe', id: this.currentId });
    this.subscribe();
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.handlers.onStatus(this.failures === 0 ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => this.subscribe();
    socket.onmessage = (message) => this.onFrame(JSON.parse(message.data));
    socket.onclose = (event) => this.onClose(socket, event);
  }

  subscribe() {
    this.currentId = `s${++this.subscriptionCount}`;
    const frame = { type: 'subscribe', id: this.currentId, filter: this.filter, client_name: 'web viewer' };
    if (this.cursor !== undefined) frame.after_sequence = String(this.cursor);
    this.send(frame);
  }

  send(frame) {
    this.socket?.send(JSON.stringify(frame));
  }

  onFrame(frame) {
    // Frames of a subscription this viewer already left (a filter change) are ignored.
    if (frame.id !== undefined && frame.id !== this.currentId && frame.type !== 'pong') return;
    switch (frame.type) {
      case 'subscribed':
        this.failures = 0;
        this.advance(frame.cursor);
        this.handlers.onStatus('live');
        break;
      case 'events':
        this.handlers.onEvents(frame.events);
        this.advance(frame.events[frame.events.length - 1]?.sequence);
        break;
      case 'heartbeat':
        this.advance(frame.cursor);
        break;
      case 'gap':
        this.handlers.onError({ code: 'GAP', message: `events ${frame.fromSequence}-${frame.toSequence} are no longer stored` });
        break;
      case 'ended':
        this.handlers.onStatus('closed', `subscription ended: ${frame.reason}`);
        break;
      case 'error':
        if (frame.error.field === 'after_sequence') {
          // The server no longer knows our cursor (a restart with the memory log): start live again.
          this.cursor = undefined;
          this.subscribe();
          break;
        }
        this.handlers.onError(frame.error);
        if (frame.id === this.currentId) this.handlers.onStatus('closed', 'subscription refused: fix the filter');
        break;
    }
  }

  /** Moves the cursor to `sequence` (a decimal string, or a number from an older server) when it is past it. */
  advance(sequence) {
    let n;
    try {
      n = BigInt(sequence ?? 0);
    } catch {
      return; // not a sequence: keep the cursor we have
    }
    if (this.cursor === undefined || n > this.cursor) {
      this.cursor = n;
      this.handlers.onCursor(String(n));
    }
  }

  onClose(socket, event) {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (event.code >= NO_RECONNECT_FROM && event.code < 5000) {
      this.handlers.onStatus('closed', `${event.code} ${event.reason}`);
      return;
    }
    // Exponential backoff with jitter, so a restarted server is not hit by every viewer at once.
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.failures++;
    this.handlers.onStatus('reconnecting', `${event.code || ''} ${event.reason || 'connection lost'}`.trim());
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
