import type { NewAuditEvent } from '../../src/domain/event.js';

/** The time the shared factory stamps event n with: T0 plus n minutes. */
export const T0 = Date.parse('2025-01-01T00:00:00.000Z');
export const MINUTE = 60_000;

let made = 0;

/**
 * The one factory of domain events for tests: a valid event, numbered so that its id, time and
 * routing fields vary predictably (n = 1, 2, ...), with `over` replacing any field.
 */
export function newEvent(over: Partial<NewAuditEvent> = {}, n = ++made): NewAuditEvent {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    type: 'LOGIN_SUCCESS',
    severity: 1,
    timestamp: new Date(T0 + n * MINUTE),
    userId: `user-${n % 3}`,
    entityType: n % 2 === 0 ? 'call' : 'bid',
    entityId: `entity-${n % 5}`,
    action: 'login',
    result: 'SUCCESS',
    metadata: { n, nested: { z: 1, a: [1, 'two', null] } },
    correlationId: `corr-${n}`,
    source: 'test',
    traceparent: '',
    ...over,
  };
}
