// The viewer's side of the WebSocket bridge (README, "WebSocket frames"): one connection, one
// subscription at a time, automatic reconnect that resumes after the last sequence seen. Sequences and
// cursors arrive as decimal strings (canonical proto JSON for uint64): they are compared as BigInt, so
// they stay exact beyond 2^53, and sent back as strings.
//
// History on open ("the newest N events"): the bridge replays from `after_sequence`, so the viewer
// needs the head of the log to start at head - N, and no HTTP endpoint tells it. A live subscription
// does: its `subscribed` frame's `cursor` is the last stored sequence at that moment. So a new
// subscription (page open, new filter, new history size) is made in two steps:
//   1. a *probe*: subscribe live (no after_sequence) with the real filter, read `cursor` = head;
//   2. unsubscribe the probe and subscribe again with after_sequence = max(0, head - N).
// The second subscription replays head-N+1 .. head and then goes on live, so nothing published
// between the two steps is lost, and nothing is shown twice: frames of the probe are ignored once it is
// left (only the current id's frames count). N counts positions in the log, not matches: with a narrow
// filter fewer than N rows may show. With an empty log (head 0) or N = 0 the probe simply stays as the
// live subscription, and a filter with a start time is positioned by that time instead (no probe).
// A reconnect resumes after the last sequence delivered, as before: no probe, no second copy.

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** Close codes from 4400 on mean "fix the request first": reconnecting would fail the same way. */
const NO_RECONNECT_FROM = 4400;

const isSequence = (value) => /^\d+$/.test(String(value ?? ''));

export class StreamClient {
  /**
   * @param {object} handlers
   * @param {(events: object[]) => void} handlers.onEvents events in sequence order
   * @param {(state: string, detail?: string) => void} handlers.onStatus connecting, live, reconnecting, closed
   * @param {(error: {code: string, message: string, field?: string}) => void} handlers.onError
   * @param {(cursor: string) => void} handlers.onCursor the highest sequence delivered, as a decimal string
   */
  constructor(url, handlers, { history = 0 } = {}) {
    this.url = url;
    this.handlers = handlers;
    this.filter = {};
    /** How many of the newest log positions a new subscription replays first (a BigInt). */
    this.history = BigInt(history);
    /** The id of the live subscription sent only to learn the head of the log (step 1 above). */
    this.probeId = undefined;
    /** Where the current subscription's replay starts: a gap right after it is expected, not an error. */
    this.replayFrom = undefined;
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

  /**
   * A new filter starts a new subscription: the newest `history` positions of the log first, then live
   * (or from the filter's start time when it has one).
   */
  setFilter(filter) {
    this.filter = filter;
    this.restart();
  }

  /** A new history size (a whole number, 0 for live only) starts the subscription again with it. */
  setHistory(history) {
    this.history = BigInt(history);
    this.restart();
  }

  restart() {
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
    this.probeId = undefined;
    this.replayFrom = undefined;
    const frame = { type: 'subscribe', id: this.currentId, filter: this.filter, client_name: 'web viewer' };
    if (this.cursor !== undefined) frame.after_sequence = String(this.cursor);
    else if (this.history > 0n && !this.filter.time_range?.start) this.probeId = this.currentId;
    this.send(frame);
  }

  /** Step 2 of the history load: leave the probe, replay from head - history. */
  startReplay(probeId, cursor) {
    this.probeId = undefined;
    let head;
    try {
      head = BigInt(cursor);
    } catch {
      return false; // no head to count back from (not a sequence): the probe stays, live
    }
    if (head <= 0n) return false; // nothing stored yet: the probe is the live subscription
    const start = head > this.history ? head - this.history : 0n;
    this.send({ type: 'unsubscribe', id: probeId });
    this.cursor = start;
    this.handlers.onCursor(String(start));
    this.subscribe();
    this.replayFrom = start;
    return true;
  }

  send(frame) {
    this.socket?.send(JSON.stringify(frame));
  }

  onFrame(frame) {
    // Frames of a subscription this viewer already left (a filter change) are ignored.
    if (frame.id !== undefined && frame.id !== this.currentId && frame.type !== 'pong') return;
    switch (frame.type) {
      case 'subscribed':
        if (frame.id === this.probeId && this.startReplay(frame.id, frame.cursor)) break;
        this.failures = 0;
        this.advance(frame.cursor);
        this.handlers.onStatus('live');
        break;
      case 'events':
        this.replayFrom = undefined; // a gap after events is a real loss again
        this.handlers.onEvents(frame.events);
        this.advance(frame.events[frame.events.length - 1]?.sequence);
        break;
      case 'heartbeat':
        this.advance(frame.cursor);
        break;
      case 'gap':
        // History older than the retained log is simply not there: fewer rows, not an error.
        if (this.replayFrom !== undefined && isSequence(frame.fromSequence) && BigInt(frame.fromSequence) <= this.replayFrom + 1n) break;
        this.handlers.onError({ code: 'GAP', message: `events ${frame.fromSequence}-${frame.toSequence} are no longer stored` });
        break;
      case 'ended':
        this.handlers.onStatus('closed', `subscription ended: ${frame.reason}`);
        break;
      case 'error':
        if (frame.error.field === 'after_sequence') {
          // The server no longer knows our cursor (a restart with the memory log): start again
          // (its history, then live).
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
