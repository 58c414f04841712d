import stringify from 'safe-stable-stringify';
import type { Metadata, StoredAuditEvent } from '../domain/event.js';
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
      if (!copies) presented.set(event, (copies = new Map<string, StoredAuditEvent>()));
      let copy = copies.get(permissions.presentationKey);
      if (!copy) {
        copy = masked(event, redactor.redact(event.metadata));
        copies.set(permissions.presentationKey, copy);
      }
      return copy;
    },
  };
}

/**
 * The masked copy keeps the salts of the values redaction left as they were, and drops the others:
 * with a salt, a commitment could be opened by guessing the value offline. The commitments stay, so
 * the caller can still verify the chain.
 */
function masked(event: StoredAuditEvent, metadata: Metadata): StoredAuditEvent {
  const salts = Object.create(null) as Record<string, Uint8Array>;
  for (const [key, salt] of Object.entries(event.metadataSalts)) {
    if (stringify(metadata[key]) === stringify(event.metadata[key])) salts[key] = salt;
  }
  return { ...event, metadata, metadataSalts: salts };
}
