import type { StoredAuditEvent } from '../domain/event.js';
import type { Viewer } from '../domain/ports.js';
import type { Redactor } from './redaction.js';
import type { Permissions } from './roles.js';

/** Redacted copies, made once per event and presentation (role set), shared by every subscriber of it. */
const presented = new WeakMap<StoredAuditEvent, Map<string, StoredAuditEvent>>();

/** The roles table applied to one caller's stream or query. */
export function viewerFor(permissions: Permissions, redactor: Redactor): Viewer {
  return {
    allows: (event) => permissions.allows(event),
    present(event) {
      if (permissions.seesClear(event) || Object.keys(event.metadata).length === 0) return event;
      let copies = presented.get(event);
      if (!copies) presented.set(event, (copies = new Map()));
      let copy = copies.get(permissions.presentationKey);
      if (!copy) {
        copy = { ...event, metadata: redactor.redact(event.metadata) };
        copies.set(permissions.presentationKey, copy);
      }
      return copy;
    },
  };
}
