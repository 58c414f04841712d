import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { applyAliases } from './aliases.js';
import { closest, keyPaths, schemaAt, sectionShape } from './keys.js';
import { configSchema, PATH_KEYS, type Config, type ConfigInput } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Replaces ${VAR} and ${VAR:-default} in every string value; an unset VAR without default is an error. */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      const found = env[name] ?? fallback;
      if (found === undefined) throw new ConfigError(`${path}: environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}

type Section = Record<string, unknown>;
const isSection = (v: unknown): v is Section => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A section left empty in YAML (`jwt:` with every key under it commented out) is null: read it as
 * absent, so its defaults apply, rather than refusing it as "not a section".
 */
function dropEmptySections(value: unknown, schema: z.ZodType): unknown {
  const shape = sectionShape(schema);
  if (!shape || !isSection(value)) return value;
  const out: Section = {};
  for (const [key, v] of Object.entries(value)) {
    const child = shape[key];
    if (v === null && child && sectionShape(child)) continue;
    out[key] = child ? dropEmptySections(v, child) : v;
  }
  return out;
}

/** A value as an error message quotes it. */
function show(value: unknown): string {
  if (value === null) return 'nothing (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a section';
  return JSON.stringify(value) ?? typeof value;
}

/**
 * Messages for zod's issues that the schema words no better itself (a schema's own message wins over
 * this one). The loader puts the key in front: `storage.type: "sqllite" is not one of ...`.
 */
function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_value' && issue.values.length > 1 && issue.values.every((v) => typeof v === 'string')) {
    const values = issue.values;
    const hint = typeof issue.input === 'string' ? closest(issue.input, values) : undefined;
    return `${show(issue.input)} is not one of ${values.join(', ')}${hint ? `; did you mean ${hint}?` : ''}`;
  }
  if ((issue.code === 'too_small' || issue.code === 'too_big') && typeof issue.input === 'number') {
    const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
    const words = issue.code === 'too_small' ? (issue.inclusive ? 'at least' : 'more than') : (issue.inclusive ? 'at most' : 'less than');
    return `must be ${words} ${String(bound)}, got ${issue.input}`;
  }
  if (issue.code === 'invalid_type') {
    const names: Record<string, string> = { object: 'a section', array: 'a list', int: 'a whole number', boolean: 'true or false' };
    const expected = names[issue.expected] ?? `a ${issue.expected}`;
    return issue.input === undefined ? `is required (${expected})` : `expected ${expected}, got ${show(issue.input)}`;
  }
  return undefined;
}

/** `server.grcp_port: unknown key; did you mean grpc_port?`, or the keys that are valid there. */
function unknownKey(section: readonly PropertyKey[], key: string): string {
  const where = [...section, key].join('.');
  const valid = Object.keys(sectionShape(schemaAt(section) ?? configSchema) ?? {});
  const near = closest(key, valid);
  if (near) return `${where}: unknown key; did you mean ${near}?`;
  const elsewhere = keyPaths().filter((p) => p.endsWith(`.${key}`) || p === key);
  if (elsewhere.length > 0) return `${where}: unknown key; did you mean ${elsewhere.slice(0, 3).join(' or ')}?`;
  return `${where}: unknown key (valid here: ${valid.join(', ')})`;
}

/** Keys whose value an error message must not repeat. */
const hidden = (issue: z.core.$ZodIssue): boolean =>
  /(password|secret)$/.test(String(issue.path.at(-1))) && (issue as { input?: unknown }).input !== undefined;

/** Validates a config object; the error names every bad key, with a hint where one helps. */
export function parseConfig(input: unknown): Config {
  const aliased = applyAliases(dropEmptySections(input ?? {}, configSchema));
  const result = configSchema.safeParse(aliased.input, { reportInput: true, error: issueMessage });
  if (result.success && aliased.problems.length === 0) return result.data;
  const problems = [
    ...aliased.problems,
    ...(result.error?.issues ?? []).flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => unknownKey(issue.path, key))
        : [`${issue.path.join('.') || '(root)'}: ${hidden(issue) ? 'expected a string (the value is not shown)' : issue.message}`]),
  ];
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

/**
 * The one place relative paths are resolved: a path written in the config file (PATH_KEYS) is
 * relative to the file's folder. Defaults, and every path without a config file, stay relative to the
 * working directory, where they were before.
 */
function resolvePaths(config: Config, written: unknown, folder: string): Config {
  for (const key of PATH_KEYS) {
    const keys = key.split('.');
    let section: unknown = config;
    let raw: unknown = written;
    for (const k of keys.slice(0, -1)) {
      section = isSection(section) ? section[k] : undefined;
      raw = isSection(raw) ? raw[k] : undefined;
    }
    const last = keys.at(-1);
    if (last === undefined || !isSection(section) || !isSection(raw) || typeof raw[last] !== 'string') continue;
    const value = section[last];
    if (typeof value === 'string' && value !== '' && value !== ':memory:' && !path.isAbsolute(value)) {
      section[last] = path.resolve(folder, value);
    }
  }
  return config;
}

/**
 * Reads a YAML config file (or none: every default), expanding ${VAR} from the environment. Relative
 * paths written in the file are made absolute against the file's folder.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Config {
  if (!file) return parseConfig({});
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
  }
  const expanded = expandEnv(raw, env, '');
  return resolvePaths(parseConfig(expanded), expanded, path.dirname(path.resolve(file)));
}

export type { Config, ConfigInput };
