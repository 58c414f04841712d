/**
 * The configuration keys of the original specification. Where this service has the same setting under
 * another name, the old key is accepted and moved there; where it has none, the old key is refused with
 * a message saying what replaced it or why it is not needed. Giving an old key and its new key both is
 * refused (the two could disagree).
 *
 * | original key                        | here                                                                  |
 * |-------------------------------------|-----------------------------------------------------------------------|
 * | audit.publisher.event_queue_size    | audit.publisher.max_queue_depth                                       |
 * | audit.publisher.critical_queue_size | audit.publisher.critical_queue_depth                                  |
 * | audit.publisher.shutdown_timeout    | server.shutdown_timeout                                               |
 * | audit.publisher.max_retries         | kafka.max_retries (the one retry layer is the Kafka forwarder's)      |
 * | audit.publisher.retry_delay         | kafka.retry_delay                                                     |
 * | audit.publisher.retry_backoff       | kafka.retry_backoff                                                   |
 * | audit.publisher.send_timeout        | kafka.send_timeout                                                    |
 * | audit.publisher.worker_count        | refused: the dispatcher is single-threaded by design                  |
 * | audit.publisher.critical_workers    | refused: likewise; the critical lane is served first                  |
 * | audit.publisher.batch_size          | refused: now two, audit.publisher.append_batch_size, kafka.batch_size |
 * | audit.publisher.batch_timeout       | refused: a group commit never waits; kafka.linger_ms for Kafka        |
 * | kafka.enable_tls                    | kafka.tls.enabled                                                     |
 * | kafka.enable_sasl: true             | kafka.sasl, from kafka.sasl_mechanism (lower-cased), sasl_username,   |
 * |   + kafka.sasl_mechanism,           |   sasl_password (all three needed); enable_sasl: false: no SASL, the  |
 * |     sasl_username, sasl_password    |   sasl_* keys unused; sasl_* without enable_sasl: refused             |
 * | kafka.retry_max                     | kafka.max_retries (in the schema itself; equal values only)           |
 */

type Section = Record<string, unknown>;

interface Rename {
  readonly from: string;
  readonly to: string;
  /** Other keys that are the same setting (kafka.retry_max for kafka.max_retries). */
  readonly same?: readonly string[] | undefined;
}

const RENAMED: readonly Rename[] = [
  { from: 'audit.publisher.event_queue_size', to: 'audit.publisher.max_queue_depth' },
  { from: 'audit.publisher.critical_queue_size', to: 'audit.publisher.critical_queue_depth' },
  { from: 'audit.publisher.shutdown_timeout', to: 'server.shutdown_timeout' },
  { from: 'audit.publisher.max_retries', to: 'kafka.max_retries', same: ['kafka.retry_max'] },
  { from: 'audit.publisher.retry_delay', to: 'kafka.retry_delay' },
  { from: 'audit.publisher.retry_backoff', to: 'kafka.retry_backoff' },
  { from: 'audit.publisher.send_timeout', to: 'kafka.send_timeout' },
  { from: 'kafka.enable_tls', to: 'kafka.tls.enabled' },
];

const SINGLE_THREADED =
  'the dispatcher is single-threaded by design (one ordered pump: the critical lane is served first, and the ' +
  'SQLite log writer has a thread of its own), so there is no worker pool to size';

/** Keys of the original specification with no single equivalent here: why, and what to write instead. */
const REFUSED: Readonly<Record<string, string>> = {
  'audit.publisher.worker_count': `not needed (original specification): ${SINGLE_THREADED}; remove it`,
  'audit.publisher.critical_workers':
    `not needed (original specification): ${SINGLE_THREADED}; audit.publisher.critical_queue_depth reserves the critical lane's room`,
  'audit.publisher.batch_size':
    'replaced (original specification) by two settings: audit.publisher.append_batch_size (most events stored in ' +
    'one group commit) and kafka.batch_size (most events in one Kafka produce request)',
  'audit.publisher.batch_timeout':
    'not needed (original specification): a group commit takes whatever is queued and never waits to fill a ' +
    'batch; for Kafka, kafka.linger_ms is the wait for more events',
};

const SASL_PARTS = { sasl_mechanism: 'mechanism', sasl_username: 'username', sasl_password: 'password' } as const;

const isSection = (v: unknown): v is Section => typeof v === 'object' && v !== null && !Array.isArray(v);

function get(root: Section, path: string): unknown {
  let value: unknown = root;
  for (const key of path.split('.')) value = isSection(value) ? value[key] : undefined;
  return value;
}

/** The section holding `path`'s last key, created when missing; undefined when something on the way is not a section. */
function parentOf(root: Section, path: string, create: boolean): Section | undefined {
  let section = root;
  for (const key of path.split('.').slice(0, -1)) {
    if (section[key] === undefined && create) section[key] = {};
    const next = section[key];
    if (!isSection(next)) return undefined;
    section = next;
  }
  return section;
}

/** A copy of every nested section (values themselves are shared), so moving keys leaves the caller's object alone. */
const copySections = (v: unknown): unknown => (isSection(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copySections(x)])) : v);

const lastKey = (path: string): string => path.slice(path.lastIndexOf('.') + 1);

/**
 * Moves the original specification's keys to their names here, in a copy of `input`. Returns the
 * copy and one message per key that cannot be moved ("audit.publisher.worker_count: not needed: ...").
 */
export function applyAliases(input: unknown): { input: unknown; problems: string[] } {
  if (!isSection(input)) return { input, problems: [] };
  const root = copySections(input) as Section;
  const problems: string[] = [];
  const remove = (path: string): void => {
    delete parentOf(root, path, false)?.[lastKey(path)];
  };

  for (const { from, to, same = [] } of RENAMED) {
    const value = get(root, from);
    if (value === undefined) continue;
    const already = [to, ...same].find((key) => get(root, key) !== undefined);
    if (already) {
      const also = already === to ? '' : ` (as ${already})`;
      problems.push(`${from}: the original specification's name of ${to}, which is set too${also}; keep only ${to}`);
    } else {
      const target = parentOf(root, to, true);
      if (target) target[lastKey(to)] = value;
    }
    remove(from);
  }

  for (const [from, why] of Object.entries(REFUSED)) {
    if (get(root, from) === undefined) continue;
    problems.push(`${from}: ${why}`);
    remove(from);
  }

  const kafka = root.kafka;
  if (isSection(kafka)) {
    const oldKeys = (Object.keys(SASL_PARTS) as Array<keyof typeof SASL_PARTS>).filter((k) => kafka[k] !== undefined);
    const enable = kafka.enable_sasl === 'true' ? true : kafka.enable_sasl === 'false' ? false : kafka.enable_sasl;
    if (enable !== undefined || oldKeys.length > 0) {
      if (kafka.sasl !== undefined && (enable === true || oldKeys.length > 0)) {
        problems.push(`kafka.${enable === true ? 'enable_sasl' : oldKeys[0]}: the original form of kafka.sasl, which is set too; keep only kafka.sasl`);
      } else if (enable === true) {
        const missing = oldKeys.length < 3 ? Object.keys(SASL_PARTS).filter((k) => kafka[k] === undefined) : [];
        if (missing.length > 0) {
          problems.push(`kafka.enable_sasl: true needs ${missing.map((k) => `kafka.${k}`).join(', ')} too (or write kafka.sasl: {mechanism, username, password})`);
        } else {
          const mechanism = kafka.sasl_mechanism;
          kafka.sasl = {
            mechanism: typeof mechanism === 'string' ? mechanism.toLowerCase().replaceAll('_', '-') : mechanism,
            username: kafka.sasl_username,
            password: kafka.sasl_password,
          };
        }
      } else if (enable === undefined) {
        problems.push(`kafka.${oldKeys[0]}: does nothing without kafka.enable_sasl: true (or write kafka.sasl: {mechanism, username, password})`);
      } else if (enable !== false) {
        problems.push(`kafka.enable_sasl: expected true or false, got ${JSON.stringify(enable)}`);
      } // enable_sasl: false: no SASL, as in the original; its credentials go unused.
      for (const k of ['enable_sasl', ...Object.keys(SASL_PARTS)]) delete kafka[k];
    }
  }
  return { input: root, problems };
}
