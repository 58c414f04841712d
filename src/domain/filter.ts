import type { EventType, Severity } from './catalog.js';

/**
 * Which events a subscription receives: AND across fields, OR within a field, an empty field matches
 * anything. `severities` is exact membership, `minSeverity` a lower bound; start and end are inclusive
 * bounds on the event's timestamp; `expression` is CEL over the event.
 */
export interface Filter {
  readonly eventTypes: readonly EventType[];
  readonly severities: readonly Severity[];
  readonly minSeverity?: Severity;
  readonly entityTypes: readonly string[];
  readonly entityIds: readonly string[];
  readonly userIds: readonly string[];
  readonly start?: Date;
  readonly end?: Date;
  readonly expression: string;
}

export const MATCH_ALL: Filter = {
  eventTypes: [], severities: [], entityTypes: [], entityIds: [], userIds: [], expression: '',
};
