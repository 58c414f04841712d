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

/**
 * The type picker: a checkbox per category that picks all its types, and under it (shown with the
 * arrow) a checkbox per type. A category box is checked when all its types are, and half-checked
 * (indeterminate) when some are.
 */
function fillTypes(form, eventTypes) {
  const root = form.querySelector('#f-categories');
  const groups = new Map();
  for (const { name, category } of eventTypes) {
    if (!groups.has(category)) groups.set(category, []);
    groups.get(category).push(name);
  }
  for (const [category, names] of groups) {
    const group = document.createElement('div');
    group.className = 'category';
    group.dataset.category = category;
    const head = document.createElement('div');
    head.className = 'category-head';
    const expand = document.createElement('button');
    expand.type = 'button';
    expand.className = 'expand';
    expand.setAttribute('aria-expanded', 'false');
    expand.setAttribute('aria-label', `show the ${category} types`);
    expand.textContent = '▸';
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.className = 'category-box';
    box.value = category;
    const count = document.createElement('small');
    count.className = 'count';
    count.textContent = String(names.length);
    label.append(box, ` ${category} `, count);
    head.append(expand, label);
    const list = document.createElement('div');
    list.className = 'type-list checks';
    list.id = `f-types-${category}`;
    list.hidden = true;
    expand.setAttribute('aria-controls', list.id);
    for (const name of names) {
      const typeLabel = document.createElement('label');
      const typeBox = document.createElement('input');
      typeBox.type = 'checkbox';
      typeBox.name = 'event_types';
      typeBox.value = name;
      typeBox.dataset.category = category;
      typeLabel.append(typeBox, ` ${name}`);
      list.append(typeLabel);
    }
    group.append(head, list);
    root.append(group);

    expand.addEventListener('click', () => {
      list.hidden = !list.hidden;
      expand.setAttribute('aria-expanded', String(!list.hidden));
      expand.textContent = list.hidden ? '▸' : '▾';
    });
    box.addEventListener('change', () => {
      for (const typeBox of list.querySelectorAll('input')) typeBox.checked = box.checked;
      syncCategories(form);
    });
    list.addEventListener('change', () => syncCategories(form));
  }
  syncCategories(form);
}

/** Sets each category box from its types (also after the form's reset, which leaves indeterminate as it was). */
export function syncCategories(form) {
  for (const group of form.querySelectorAll('#f-categories .category')) {
    const boxes = [...group.querySelectorAll('input[name="event_types"]')];
    const picked = boxes.filter((b) => b.checked).length;
    const box = group.querySelector('.category-box');
    box.checked = picked > 0 && picked === boxes.length;
    box.indeterminate = picked > 0 && picked < boxes.length;
    group.classList.toggle('picked', picked > 0);
  }
}

/** Fills the type picker (by category) and the severity controls. */
export function fillControls(form, catalog) {
  fillTypes(form, catalog.eventTypes);
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

/**
 * The type part of the filter: `categories` when only whole categories are picked, else `event_types`
 * with every picked type. The server intersects `categories` with `event_types` (an event must match
 * both), so "all of calls plus LOGIN_FAILED" cannot be sent as both: it goes as the union of types.
 * Nothing picked, or everything, is no type condition at all.
 */
function typeFilter(form) {
  const boxes = [...form.querySelectorAll('#f-categories input[name="event_types"]')];
  const picked = boxes.filter((b) => b.checked);
  if (picked.length === 0 || picked.length === boxes.length) return {};
  const byCategory = new Map();
  for (const box of boxes) {
    const counts = byCategory.get(box.dataset.category) ?? { all: 0, picked: 0 };
    counts.all++;
    if (box.checked) counts.picked++;
    byCategory.set(box.dataset.category, counts);
  }
  const counts = [...byCategory.values()];
  if (counts.every((c) => c.picked === 0 || c.picked === c.all)) {
    return { categories: [...byCategory].filter(([, c]) => c.picked > 0).map(([category]) => category) };
  }
  return { event_types: picked.map((b) => b.value) };
}

/** The filter the form describes; fields left empty are left out (they match anything). */
export function readFilter(form) {
  const filter = {};
  Object.assign(filter, typeFilter(form));
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
