// The filter form: its controls come from the server's catalog; reading it gives a filter in the
// WebSocket protocol's JSON (short enum names, which the bridge accepts).

const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

/** A datetime-local value (local time) as RFC 3339, or undefined when empty. */
function time(value) {
  return value ? new Date(value).toISOString() : undefined;
}

export async function loadCatalog() {
  const response = await fetch('/v1/catalog');
  if (!response.ok) throw new Error(`catalog: HTTP ${response.status}`);
  return response.json();
}

/** Fills the type list (grouped by category) and the severity controls. */
export function fillControls(form, catalog) {
  const types = form.querySelector('#f-types');
  const groups = new Map();
  for (const { name, category } of catalog.eventTypes) {
    if (!groups.has(category)) {
      const group = document.createElement('optgroup');
      group.label = category;
      groups.set(category, group);
      types.append(group);
    }
    groups.get(category).append(new Option(name, name));
  }
  const checks = form.querySelector('#f-severities');
  const min = form.querySelector('#f-min-severity');
  for (const severity of catalog.severities) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.name = 'severities';
    box.value = severity;
    label.append(box, ` ${severity}`);
    checks.append(label);
    min.append(new Option(severity, severity));
  }
}

/** The filter the form describes; fields left empty are left out (they match anything). */
export function readFilter(form) {
  const filter = {};
  const types = [...form.querySelector('#f-types').selectedOptions].map((o) => o.value);
  if (types.length) filter.event_types = types;
  const severities = [...form.querySelectorAll('input[name="severities"]:checked')].map((b) => b.value);
  if (severities.length) filter.severities = severities;
  const min = form.querySelector('#f-min-severity').value;
  if (min) filter.min_severity = min;
  for (const [id, key] of [['#f-entity-types', 'entity_types'], ['#f-entity-ids', 'entity_ids'], ['#f-user-ids', 'user_ids']]) {
    const values = list(form.querySelector(id).value);
    if (values.length) filter[key] = values;
  }
  const start = time(form.querySelector('#f-from').value);
  const end = time(form.querySelector('#f-to').value);
  if (start || end) filter.time_range = { start, end };
  const expression = form.querySelector('#f-expression').value.trim();
  if (expression) filter.expression = expression;
  return filter;
}
