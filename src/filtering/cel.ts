import { Environment } from '@marcbachmann/cel-js';
import { severityName } from '../domain/catalog.js';
import { AppError } from '../domain/errors.js';
import type { StoredAuditEvent } from '../domain/event.js';

export type CelPredicate = (event: StoredAuditEvent) => boolean;

const FIELD = 'filter.expression';

/** `event` is a map, so unknown fields surface at evaluation (as no match), not at compile time. */
const environment = new Environment({ limits: { maxAstNodes: 1000, maxDepth: 50 } }).registerVariable(
  'event',
  'map<string, dyn>',
);

/** The CEL view of an event: proto field names, enums as short names, built once per event. */
const contexts = new WeakMap<StoredAuditEvent, { event: Record<string, unknown> }>();

function celContext(e: StoredAuditEvent): { event: Record<string, unknown> } {
  let ctx = contexts.get(e);
  if (!ctx) {
    ctx = {
      event: {
        id: e.id, type: e.type, severity: severityName(e.severity), severity_level: BigInt(e.severity),
        timestamp: e.timestamp, user_id: e.userId, entity_type: e.entityType, entity_id: e.entityId,
        action: e.action, result: e.result, metadata: e.metadata, correlation_id: e.correlationId,
        source: e.source, sequence: BigInt(e.sequence), received_at: e.receivedAt,
      },
    };
    contexts.set(e, ctx);
  }
  return ctx;
}

/** Compiles once; a syntax error, unknown variable or non-boolean result is INVALID_ARGUMENT. */
export function compileCel(expression: string, maxLength: number): CelPredicate {
  if (expression.length > maxLength) {
    throw AppError.invalid(FIELD, `is ${expression.length} characters, the limit is ${maxLength}`);
  }
  let evaluate: (ctx: object) => unknown;
  try {
    const checked = environment.check(expression);
    if (!checked.valid) throw checked.error;
    if (checked.type !== 'bool' && checked.type !== 'dyn') {
      throw new Error(`must evaluate to bool, not ${checked.type}`);
    }
    evaluate = environment.parse(expression) as (ctx: object) => unknown;
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw AppError.invalid(FIELD, `invalid CEL expression: ${reason}`);
  }
  return (event) => {
    try {
      return evaluate(celContext(event)) === true;
    } catch {
      return false; // a missing metadata key or a type mismatch on this event: no match
    }
  };
}
