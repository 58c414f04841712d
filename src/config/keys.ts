import type { z } from 'zod';
import { configSchema } from './schema.js';

/** What zod 4 keeps in every schema's `def`; enough to walk the config schema's shape. */
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}
const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

/** Looks through .default, .prefault, .optional, .preprocess and .transform to the schema that checks the value. */
export function unwrap(schema: z.ZodType): z.ZodType {
  for (;;) {
    const def = defOf(schema);
    if (def.innerType && ['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) {
      schema = def.innerType;
    } else if (def.type === 'pipe' && def.in && def.out) {
      schema = defOf(def.in).type === 'transform' ? def.out : def.in; // preprocess: (transform, schema); transform: (schema, transform)
    } else {
      return schema;
    }
  }
}

/** The keys of an object schema (a config section), or undefined for a value. */
export function sectionShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = defOf(unwrap(schema));
  return def.type === 'object' ? def.shape : undefined;
}

/** The schema of the key at `path` (["storage", "retention"]), or undefined when there is no such key. */
export function schemaAt(path: readonly PropertyKey[], root: z.ZodType = configSchema): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root;
  for (const key of path) schema = schema && typeof key === 'string' ? sectionShape(schema)?.[key] : undefined;
  return schema;
}

/** Every key of the schema as a dotted path, sections included ("storage", "storage.retention", ...). */
export function keyPaths(root: z.ZodType = configSchema, prefix = ''): string[] {
  return Object.entries(sectionShape(root) ?? {}).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...keyPaths(child, path)];
  });
}

/** Edit distance counting an adjacent swap as one edit (optimal string alignment): grcp_port -> grpc_port is 1. */
export function editDistance(a: string, b: string): number {
  // One flat row-major table, read through at(): every index is inside it by construction.
  const width = b.length + 1;
  const d = new Array<number>((a.length + 1) * width).fill(0);
  const at = (i: number, j: number): number => d[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * width] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * width + j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The candidate closest to `word` (ignoring case), when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(w, candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (!best) return undefined;
  const allowed = Math.max(1, Math.min(3, Math.floor(w.length / 3)));
  return best.distance <= allowed ? best.candidate : undefined;
}
