import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../config/load.js';
import { EXIT } from './usage.js';
import { note, out, outJson } from './output.js';

/** Keys whose values are credentials: printed as "****". */
const SECRET_KEY = /(secret|password|passphrase|token|credentials?)$/i;

/** A copy with every credential masked (jwt secret, kafka sasl password, ...). */
export function masked(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => masked(v, key));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, masked(v, k)]));
  }
  return typeof value === 'string' && value !== '' && SECRET_KEY.test(key) ? '****' : value;
}

/**
 * `auditstream config check FILE`: loads and validates FILE (as serve would, ${VAR} expanded) without
 * starting anything. Exit 0 when valid; 2 with every problem named when not.
 */
export function configCheck(file: string, flags: { json: boolean }): number {
  try {
    loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const lines = err.message.split('\n').map((line) => line.trim()).filter(Boolean);
    if (flags.json) outJson({ file, valid: false, problems: lines.length > 1 ? lines.slice(1) : lines });
    note(err.message);
    return EXIT.USAGE;
  }
  if (flags.json) outJson({ file, valid: true });
  else out(`${file}: valid`);
  return EXIT.OK;
}

/**
 * `auditstream config print [FILE]`: the effective configuration (FILE over the defaults, ${VAR}
 * expanded, paths resolved, durations in milliseconds) as YAML, or JSON; credentials masked.
 */
export function configPrint(file: string | undefined, flags: { json: boolean }): number {
  const config = masked(loadConfig(file));
  if (flags.json) outJson(config);
  else process.stdout.write(stringify(config));
  return EXIT.OK;
}
