import { CATEGORIES, typeInfo, type Category } from '../domain/catalog.js';
import type { StoredAuditEvent } from '../domain/event.js';
import type { Identity } from './identity.js';

type Pii = 'clear' | 'redacted';

interface RoleRule {
  readonly publish: boolean;
  /** Categories the role sees, and whether PII in them is shown in clear. */
  readonly sees: readonly Category[];
  readonly pii: Pii;
  /** Ops RPCs (stats of the whole service, every subscription, dead letters, chain verification). */
  readonly ops: boolean;
  /** Erasing events (the right to erasure). */
  readonly erase: boolean;
  /** GET /metrics and the full /readyz detail, with security on. */
  readonly metrics: boolean;
}

/**
 * The roles table of shared/event-catalog.md. A Map, not an object: a role named `constructor`,
 * `__proto__` or `toString` in a token must be an unknown role, not something inherited from Object.
 */
const ROLES: ReadonlyMap<string, RoleRule> = new Map([
  ['admin', { publish: true, sees: CATEGORIES, pii: 'clear', ops: true, erase: true, metrics: true }],
  ['publisher', { publish: true, sees: [], pii: 'redacted', ops: false, erase: false, metrics: false }],
  ['security', { publish: false, sees: ['security', 'data', 'system', 'calls'], pii: 'clear', ops: false, erase: false, metrics: false }],
  ['compliance', { publish: false, sees: ['compliance', 'financial', 'data', 'calls'], pii: 'clear', ops: false, erase: true, metrics: false }],
  ['operator', { publish: false, sees: ['calls', 'bids', 'system'], pii: 'redacted', ops: false, erase: false, metrics: true }],
  ['auditor', { publish: false, sees: CATEGORIES, pii: 'redacted', ops: false, erase: false, metrics: false }],
]);

/**
 * What an identity may do, merged over its roles (a permission any role grants is granted; a
 * category is shown in clear when any role that sees it shows it in clear). A subject with none of
 * the known roles sees only events whose user_id is its own subject, redacted. Unknown role names
 * are ignored, and reported to `onUnknownRole` when given.
 */
export class Permissions {
  readonly canPublish: boolean;
  readonly canOperate: boolean;
  /** Erase events (admin, compliance). */
  readonly canErase: boolean;
  /** Read /metrics and the full /readyz detail (admin, operator). */
  readonly canReadMetrics: boolean;
  /** Category -> PII treatment, for the categories this identity sees by role. */
  private readonly categories = new Map<Category, Pii>();
  /** True when no known role applies: own events only. */
  readonly ownEventsOnly: boolean;
  /** Groups identities that see events the same way, so redacted copies are shared per role set. */
  readonly presentationKey: string;

  constructor(readonly identity: Identity, onUnknownRole?: (name: string) => void) {
    const rules: RoleRule[] = [];
    for (const name of identity.roles) {
      const rule = ROLES.get(name);
      if (rule) rules.push(rule);
      else onUnknownRole?.(name);
    }
    this.canPublish = rules.some((r) => r.publish);
    this.canOperate = rules.some((r) => r.ops);
    this.canErase = rules.some((r) => r.erase);
    this.canReadMetrics = rules.some((r) => r.metrics);
    for (const rule of rules) {
      for (const category of rule.sees) {
        if (this.categories.get(category) !== 'clear') this.categories.set(category, rule.pii);
      }
    }
    this.ownEventsOnly = rules.length === 0;
    this.presentationKey = this.ownEventsOnly ? 'redacted' : [...this.categories].map(([c, p]) => `${c}:${p}`).sort().join(',');
  }

  /** Whether this identity may subscribe or query at all. */
  get canRead(): boolean {
    return this.ownEventsOnly || this.categories.size > 0;
  }

  allows(event: StoredAuditEvent): boolean {
    if (this.ownEventsOnly) return event.userId !== '' && event.userId === this.identity.subject;
    return this.categories.has(typeInfo(event.type).category);
  }

  /** Whether PII in this event is shown in clear to this identity. */
  seesClear(event: StoredAuditEvent): boolean {
    return !this.ownEventsOnly && this.categories.get(typeInfo(event.type).category) === 'clear';
  }
}
