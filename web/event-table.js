// The events table: newest first, at most `cap` rows; a click on a row shows its full event.

const strip = (value, prefix) => (typeof value === 'string' && value.startsWith(prefix) ? value.slice(prefix.length) : value ?? '');

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** An RFC 3339 time as local date and time to the millisecond, "2026-12-01 20:15:03.123". */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const date = `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export class EventTable {
  constructor(tbody, { onChange }) {
    this.tbody = tbody;
    this.onChange = onChange;
    this.cap = 1000;
    this.tbody.addEventListener('click', (e) => this.toggle(e.target.closest('tr.event')));
  }

  get size() {
    return this.tbody.querySelectorAll('tr.event').length;
  }

  setCap(cap) {
    this.cap = cap;
    this.trim();
  }

  clear() {
    this.tbody.replaceChildren();
    this.onChange();
  }

  /** Adds events (in sequence order) at the top, in one DOM update per batch. */
  add(events) {
    if (events.length === 0) return;
    const fragment = document.createDocumentFragment();
    // Only the newest `cap` of a large batch would survive trimming: skip building the others.
    for (const event of events.slice(-this.cap).reverse()) fragment.append(this.row(event));
    this.tbody.prepend(fragment);
    this.trim();
    this.onChange();
  }

  row(event) {
    const row = document.createElement('tr');
    row.className = 'event fresh';
    const severity = strip(event.severity, 'SEVERITY_');
    const result = strip(event.result, 'RESULT_');
    row.dataset.sequence = String(event.sequence ?? 0);
    row.dataset.severity = severity;
    row.event = event;
    // The full time as sent (UTC, RFC 3339, to the nanosecond) in the tooltip.
    cell(row, formatTime(event.timestamp), 'time').title = event.timestamp ?? '';
    const badge = document.createElement('span');
    badge.className = `sev sev-${severity}`;
    badge.textContent = severity;
    row.insertCell().append(badge);
    cell(row, strip(event.type, 'EVENT_TYPE_'));
    cell(row, event.userId ?? '');
    cell(row, [event.entityType, event.entityId].filter(Boolean).join(' · '));
    cell(row, event.action ?? '');
    cell(row, result || '–', `res-${result}`);
    cell(row, String(event.sequence ?? ''), 'num');
    return row;
  }

  /** Shows or hides the event's detail row: metadata and the fields the table leaves out. */
  toggle(row) {
    if (!row) return;
    const next = row.nextElementSibling;
    if (next?.classList.contains('detail')) {
      next.remove();
      return;
    }
    const { metadata, ...rest } = row.event;
    const detail = document.createElement('tr');
    detail.className = 'detail';
    const td = detail.insertCell();
    td.colSpan = row.cells.length;
    td.textContent = `metadata ${JSON.stringify(metadata ?? {}, null, 2)}\n\nevent ${JSON.stringify(rest, null, 2)}`;
    row.after(detail);
  }

  trim() {
    const rows = this.tbody.querySelectorAll('tr.event');
    for (let i = rows.length - 1; i >= this.cap; i--) {
      const detail = rows[i].nextElementSibling;
      if (detail?.classList.contains('detail')) detail.remove();
      rows[i].remove();
    }
  }
}
