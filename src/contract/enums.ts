import {
  EventType as ProtoEventType,
  Result as ProtoResult,
  Severity as ProtoSeverity,
} from '../../generated/audit/v1/event.js';
import { EVENT_TYPES, isEventType, RESULTS, SEVERITIES, type EventType, type ResultName, type Severity } from '../domain/catalog.js';

// Proto enum numbers <-> the domain's names. Severity numbers are the same on both sides.

const typeByNumber = new Map<number, EventType>();
const numberByType = new Map<EventType, ProtoEventType>();
for (const name of EVENT_TYPES) {
  const value = (ProtoEventType as unknown as Record<string, number>)[`EVENT_TYPE_${name}`];
  if (value === undefined) throw new Error(`event type ${name} is missing from the proto`);
  typeByNumber.set(value, name);
  numberByType.set(name, value);
}

export function eventTypeFromProto(value: number): EventType | undefined {
  return typeByNumber.get(value);
}

export function eventTypeToProto(type: EventType): ProtoEventType {
  return numberByType.get(type)!;
}

export function severityFromProto(value: number): Severity | undefined {
  return value >= Number(ProtoSeverity.SEVERITY_INFO) && value <= Number(ProtoSeverity.SEVERITY_CRITICAL) ? (value as Severity) : undefined;
}

export function resultFromProto(value: number): ResultName | undefined {
  return value >= Number(ProtoResult.RESULT_UNSPECIFIED) && value <= Number(ProtoResult.RESULT_PARTIAL) ? RESULTS[value] : undefined;
}

export function resultToProto(result: ResultName): ProtoResult {
  return RESULTS.indexOf(result);
}

/** Accepts "CALL_CREATED" or "EVENT_TYPE_CALL_CREATED" (any case), as the HTTP bridges do. */
export function eventTypeFromName(name: string): EventType | undefined {
  const short = name.toUpperCase().replace(/^EVENT_TYPE_/, '');
  return isEventType(short) ? short : undefined;
}

/** Accepts "HIGH" or "SEVERITY_HIGH" (any case). */
export function severityFromName(name: string): Severity | undefined {
  const index = SEVERITIES.indexOf(name.toUpperCase().replace(/^SEVERITY_/, '') as (typeof SEVERITIES)[number]);
  return index < 0 ? undefined : ((index + 1) as Severity);
}
