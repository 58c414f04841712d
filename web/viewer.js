// The live viewer: wires the filter form, the events table and the stream client together.
import { EventTable } from './event-table.js';
import { fillControls, loadCatalog, readFilter, syncCategories } from './filters.js';
import { StreamClient } from './stream-client.js';

const $ = (selector) => document.querySelector(selector);

const state = { received: 0, paused: false, held: [], connection: 'connecting', detail: '' };

const table = new EventTable($('#events tbody'), { onChange: () => showCounts() });

function showCounts() {
  $('#count-received').textContent = String(state.received);
  $('#count-shown').textContent = String(table.size);
  $('#empty').hidden = table.size > 0;
}

function showStatus() {
  const status = $('#status');
  const held = state.held.length;
  const paused = state.paused && state.connection === 'live';
  status.dataset.state = paused ? 'paused' : state.connection;
  $('#status-text').textContent = paused ? `paused · ${held} new` : [state.connection, state.detail].filter(Boolean).join(' · ');
  status.title = state.detail;
}

function showError(error) {
  const box = $('#filter-error');
  box.hidden = !error;
  box.textContent = error ? `${error.field ? `${error.field}: ` : ''}${error.message.replace(`${error.field}: `, '')}` : '';
}

/** The WebSocket URL on this page's host; an access_token in the page URL is passed on. */
function streamUrl() {
  const url = new URL('/v1/stream', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = new URLSearchParams(location.search).get('access_token');
  if (token) url.searchParams.set('access_token', token);
  return url.href;
}

const HISTORY_DEFAULT = 200;
const HISTORY_MAX = 5000;

/** A history size from the URL or the control: a whole number 0..HISTORY_MAX, else undefined. */
function historyOf(text) {
  if (text === null || !/^\s*\d+\s*$/.test(text)) return undefined;
  return Math.min(Number(text), HISTORY_MAX);
}

// How many of the newest events to load on open: ?history=N in the page URL, else the control's default.
const historySize = historyOf(new URLSearchParams(location.search).get('history')) ?? HISTORY_DEFAULT;
$('#history').value = String(historySize);

const client = new StreamClient(streamUrl(), {
  onEvents(events) {
    state.received += events.length;
    if (state.paused) {
      // Held while paused, but never more than the table would keep.
      state.held.push(...events);
      if (state.held.length > table.cap) state.held.splice(0, state.held.length - table.cap);
      showStatus();
      showCounts();
    } else {
      table.add(events);
    }
  },
  onStatus(connection, detail = '') {
    state.connection = connection;
    state.detail = detail;
    showStatus();
  },
  onError: showError,
  onCursor(cursor) {
    $('#cursor').textContent = String(cursor);
  },
}, { history: historySize });

$('#pause').addEventListener('click', () => {
  state.paused = !state.paused;
  $('#pause').textContent = state.paused ? 'Resume' : 'Pause';
  $('#pause').setAttribute('aria-pressed', String(state.paused));
  if (!state.paused) {
    table.add(state.held);
    state.held = [];
  }
  showStatus();
});

$('#clear').addEventListener('click', () => {
  state.held = [];
  table.clear();
  showStatus();
});

$('#cap').addEventListener('change', (e) => table.setCap(Number(e.target.value)));

// A new history size loads again, and goes into the page URL so that a reload keeps it.
$('#history').addEventListener('change', (e) => {
  const n = historyOf(e.target.value) ?? HISTORY_DEFAULT;
  e.target.value = String(n);
  const url = new URL(location.href);
  url.searchParams.set('history', String(n));
  window.history.replaceState(null, '', url);
  showError(undefined);
  state.held = [];
  table.clear();
  client.setHistory(n);
});

$('#filters').addEventListener('submit', (e) => {
  e.preventDefault();
  showError(undefined);
  state.held = [];
  table.clear();
  client.setFilter(readFilter(e.target));
});
$('#filters').addEventListener('reset', () => {
  // After the form has cleared its controls.
  setTimeout(() => {
    syncCategories($('#filters'));
    $('#filters').requestSubmit();
  }, 0);
});

table.setCap(Number($('#cap').value));
showCounts();
client.start();
loadCatalog().then(
  (catalog) => fillControls($('#filters'), catalog),
  (err) => showError({ message: `cannot load the event catalog (${err.message})` }),
);
