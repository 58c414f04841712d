/** Data model of consumer groups: members, group state, and protocol selection. */

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly GroupProtocol[];
}

export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leaderId: string;
  readonly memberId: string;
  readonly members: ReadonlyArray<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  readonly errorCode: number;
  readonly assignment: Buffer;
}

export interface GroupDescription {
  readonly state: GroupState;
  readonly generationId: number;
  readonly protocolName: string | null;
  readonly leaderId: string | null;
  readonly members: string[];
}

export interface Member {
  readonly memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: readonly GroupProtocol[];
  assignment: Buffer;
  joinWaiter?: (r: JoinResult) => void;
  syncWaiter?: (r: SyncResult) => void;
  sessionTimer?: NodeJS.Timeout;
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet. */
  readonly pending = new Map<string, NodeJS.Timeout>();
  rebalanceTimer?: NodeJS.Timeout;
  inInitialDelay = false;
  constructor(readonly groupId: string) {}

  becomeEmpty(): void {
    this.state = 'Empty';
    this.leaderId = null;
    this.protocolName = null;
    this.protocolType = null;
  }
}

export const EMPTY = Buffer.alloc(0);
export const joinError = (errorCode: number, memberId = ''): JoinResult => ({
  errorCode, generationId: -1, protocolName: '', leaderId: '', memberId, members: [],
});

/** Kafka's vote: each member votes for its most preferred protocol that all members support. */
export function selectProtocol(members: readonly Member[]): string {
  const candidates = members[0]!.protocols
    .map((p) => p.name)
    .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  const votes = new Map<string, number>();
  for (const m of members) {
    const choice = m.protocols.find((p) => candidates.includes(p.name))!.name;
    votes.set(choice, (votes.get(choice) ?? 0) + 1);
  }
  return candidates.reduce((best, name) => ((votes.get(name) ?? 0) > (votes.get(best) ?? 0) ? name : best));
}
