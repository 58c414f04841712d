/** The event catalog (shared/event-catalog.md): types, their category and default severity. */

export const SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type SeverityName = (typeof SEVERITIES)[number];

/** Severity as an ordered number: INFO = 1 ... CRITICAL = 5 (the proto numbers). */
export type Severity = 1 | 2 | 3 | 4 | 5;
export const Severity = { INFO: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5 } as const satisfies Record<SeverityName, Severity>;

export function severityName(severity: Severity): SeverityName {
  return SEVERITIES[severity - 1]!; // Severity is 1..5, SEVERITIES has its five names
}

export const RESULTS = ['UNSPECIFIED', 'SUCCESS', 'FAILURE', 'PARTIAL'] as const;
export type ResultName = (typeof RESULTS)[number];

export const CATEGORIES = ['calls', 'bids', 'financial', 'compliance', 'security', 'data', 'system'] as const;
export type Category = (typeof CATEGORIES)[number];

interface TypeInfo {
  readonly category: Category;
  readonly defaultSeverity: Severity;
}

const { MEDIUM, HIGH, CRITICAL } = Severity;

/** Every event type with its category and, where not INFO, its default severity. */
const TYPE_TABLE = {
  CALL_CREATED: ['calls'], CALL_ROUTED: ['calls'], CALL_CONNECTED: ['calls'], CALL_COMPLETED: ['calls'],
  CALL_FAILED: ['calls', MEDIUM], CALL_RECORDING_STARTED: ['calls'],
  BID_CREATED: ['bids'], BID_ACCEPTED: ['bids'], BID_REJECTED: ['bids'], BID_EXPIRED: ['bids'],
  BID_CANCELLED: ['bids'], BID_MODIFIED: ['bids'], AUCTION_COMPLETED: ['bids'],
  PAYMENT_PROCESSED: ['financial'], REFUND_ISSUED: ['financial'], INVOICE_GENERATED: ['financial'],
  CHARGEBACK_INITIATED: ['financial', MEDIUM], PAYOUT_INITIATED: ['financial'], TRANSACTION_COMPLETED: ['financial'],
  COMPLIANCE_VIOLATION: ['compliance', HIGH], CONSENT_GRANTED: ['compliance'], CONSENT_REVOKED: ['compliance'],
  CONSENT_UPDATED: ['compliance'], OPT_OUT_REQUESTED: ['compliance'], TCPA_CHECK: ['compliance'],
  GDPR_REQUEST: ['compliance'], DNC_NUMBER_SUPPRESSED: ['compliance'], DNC_NUMBER_RELEASED: ['compliance'],
  DNC_CHECK_PERFORMED: ['compliance'], DNC_LIST_SYNCED: ['compliance'],
  LOGIN_SUCCESS: ['security'], LOGIN_FAILED: ['security', MEDIUM], PERMISSION_DENIED: ['security', MEDIUM],
  SUSPICIOUS_ACTIVITY: ['security', HIGH], SECURITY_BREACH: ['security', CRITICAL], SESSION_TERMINATED: ['security'],
  DATA_EXFILTRATION_ATTEMPT: ['security', CRITICAL],
  DATA_ACCESSED: ['data'], DATA_EXPORTED: ['data'], DATA_MODIFIED: ['data'], DATA_DELETED: ['data', MEDIUM],
  CONFIG_CHANGED: ['system'], RULE_UPDATED: ['system'], PERMISSION_CHANGED: ['system', MEDIUM], API_CALL: ['system'],
  SYSTEM_STARTUP: ['system'], SYSTEM_SHUTDOWN: ['system', HIGH],
} as const satisfies Record<string, readonly [Category] | readonly [Category, Severity]>;

export type EventType = keyof typeof TYPE_TABLE;
export const EVENT_TYPES = Object.keys(TYPE_TABLE) as EventType[];

const TYPE_INFO: ReadonlyMap<string, TypeInfo> = new Map(
  Object.entries(TYPE_TABLE).map(([name, row]) => [
    name,
    { category: row[0], defaultSeverity: (row[1] ?? Severity.INFO) },
  ]),
);

export function isEventType(name: string): name is EventType {
  return TYPE_INFO.has(name);
}

export function typeInfo(type: EventType): TypeInfo {
  return TYPE_INFO.get(type)!;
}
