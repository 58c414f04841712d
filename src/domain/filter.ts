import { CATEGORIES, EVENT_TYPES, typeInfo, type Category, type EventType, type Severity } from './catalog.js';

/**
 * Which events a subscription receives: AND across fields, OR within a field, an empty field matches
 * anything. `severities` is exact membership, `minSeverity` a lower bound; start and end are inclusive
 * bounds on the event's timestamp; `expression` is CEL over the event. `categories` are catalog
 * categories, each standing for its event types: with `eventTypes` too, an event must be of a listed
 * type and in a listed category (the two intersect; an empty intersection matches nothing).
 */
export interface Filter {
  readonly eventTypes: readonly EventType[];
  /** Absent or empty: any category. */
  readonly categories?: readonly Category[] | undefined;
  readonly severities: readonly Severity[];
  readonly minSeverity?: Severity | undefined;
  readonly entityTypes: readonly string[];
  readonly entityIds: readonly string[];
  readonly userIds: readonly string[];
  readonly start?: Date | undefined;
  readonly end?: Date | undefined;
  readonly expression: string;
}

export const MATCH_ALL: Filter = {
  eventTypes: [], categories: [], severities: [], entityTypes: [], entityIds: [], userIds: [], expression: '',
};

/** A category name of the catalog ("security"), any case, as the category; undefined when unknown. */
export function categoryFromName(name: string): Category | undefined {
  const lower = name.toLowerCase();
  return (CATEGORIES as readonly string[]).includes(lower) ? (lower as Category) : undefined;
}

/**
 * The event types an event may have to pass both type criteria: `eventTypes` (empty: any) intersected
 * with the types of `categories` (empty: any). Undefined when neither constrains the type; an empty
 * list when the two exclude each other (nothing matches).
 */
export function allowedTypes(eventTypes: readonly string[] | undefined, categories: readonly string[] | undefined): readonly string[] | undefined {
  if (!categories?.length) return eventTypes?.length ? eventTypes : undefined;
  const inCategories = EVENT_TYPES.filter((type) => categories.includes(typeInfo(type).category));
  return eventTypes?.length ? inCategories.filter((type) => eventTypes.includes(type)) : inCategories;
}
