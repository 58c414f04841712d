import type { FieldSpec } from './request-schema.js';

/** What is wrong with a request, and where: `path` is relative to the checked message. */
export class WireProblem extends Error {
  private readonly segments: string[] = [];

  constructor(
    message: string,
    /** Malformed protobuf (truncated, bad varint, wrong wire type), as opposed to a refused value. */
    readonly framing = false,
    /** Deep nesting: reported at the field holding the Struct, not the innermost one. */
    readonly depth = false,
  ) {
    super(message);
    this.name = 'WireProblem';
  }

  /** Called while unwinding, innermost segment first. */
  prepend(segment: string): this {
    this.segments.push(segment);
    return this;
  }

  get path(): string {
    let path = '';
    for (const s of [...this.segments].reverse()) path += s.startsWith('[') || path === '' ? s : `.${s}`;
    return path;
  }
}

/** A metadata key as a path segment: plain names as they are, others quoted (ASCII only, for trailers). */
export function keySegment(key: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) && key.length <= 64) return key;
  const quoted = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key);
  return `[${quoted.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}]`;
}

/** An item (see compileSchema) that failed the check: where its bytes are and what is wrong. */
export interface ItemProblem {
  readonly field: FieldSpec;
  /** The item's index among the occurrences of its field. */
  readonly index: number;
  /** Byte offsets: the length prefix starts at lengthStart, the item's bytes span [start, end). */
  readonly lengthStart: number;
  readonly start: number;
  readonly end: number;
  readonly problem: WireProblem;
}

/** Problems of decoded items (AuditEvents), for the contract mapping to report. */
const itemProblems = new WeakMap<object, WireProblem>();

export function attachProblem(item: object, problem: WireProblem): void {
  itemProblems.set(item, problem);
}

/** The problem the request check found in this decoded item, if any. */
export function wireProblemOf(item: object): WireProblem | undefined {
  return itemProblems.get(item);
}
