/**
 * Consumer group coordinator: the JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup state machine of Kafka's classic group protocol.
 *
 * Empty -> PreparingRebalance (members (re)join; completes when all known
 * members have rejoined, or after the rebalance timeout without the missing
 * ones) -> CompletingRebalance (new generation; the leader gets all member
 * metadata and sends the assignment with SyncGroup) -> Stable. A join, a
 * leave or a session timeout starts the next rebalance.
 */
import { randomUUID } from 'node:crypto';
import {
  EMPTY,
  Group,
  type GroupDescription,
  type JoinRequest,
  type JoinResult,
  type Member,
  type SyncResult,
  joinError,
  selectProtocol,
} from './group-model.js';
import { ErrorCode } from './protocol.js';

export type { GroupDescription, GroupProtocol, JoinRequest, JoinResult, SyncResult } from './group-model.js';

export interface CoordinatorOptions {
  /** Kafka's group.initial.rebalance.delay.ms (applies when an Empty group starts rebalancing). */
  readonly initialRebalanceDelayMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
}

const later = (ms: number, fn: () => void): NodeJS.Timeout => setTimeout(fn, ms).unref();

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly opts: CoordinatorOptions) {}

  join(req: JoinRequest): Promise<JoinResult> | JoinResult {
    if (!req.groupId) return joinError(ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeoutMs < this.opts.minSessionTimeoutMs || req.sessionTimeoutMs > this.opts.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId);
    }
    let group = this.groups.get(req.groupId);
    if (!group) this.groups.set(req.groupId, (group = new Group(req.groupId)));
    if (!req.protocolType || req.protocols.length === 0 || !this.compatible(group, req)) {
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId);
    }
    if (req.memberId === '') {
      const memberId = `${req.clientId}-${randomUUID()}`;
      const g = group;
      g.pending.set(memberId, later(req.sessionTimeoutMs, () => {
        g.pending.delete(memberId);
        this.maybeCompleteJoin(g);
      }));
      return joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId);
    }
    let member = group.members.get(req.memberId);
    if (!member) {
      const pendingTimer = group.pending.get(req.memberId);
      if (!pendingTimer) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
      clearTimeout(pendingTimer);
      group.pending.delete(req.memberId);
      member = { memberId: req.memberId, groupInstanceId: null, sessionTimeoutMs: 0, rebalanceTimeoutMs: 0, protocols: [], assignment: EMPTY };
      group.members.set(member.memberId, member);
      if (group.members.size === 1) group.protocolType = req.protocolType;
    }
    Object.assign(member, {
      groupInstanceId: req.groupInstanceId,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocols: req.protocols,
    });
    member.joinWaiter?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    const m = member;
    const result = new Promise<JoinResult>((resolve) => (m.joinWaiter = resolve));
    this.touch(group, member);
    if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
    else this.prepareRebalance(group);
    return result;
  }

  sync(groupId: string, memberId: string, generationId: number, assignments: ReadonlyMap<string, Buffer>): Promise<SyncResult> | SyncResult {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY };
    if (generationId !== group.generationId) return { errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: EMPTY };
    if (group.state === 'PreparingRebalance') return { errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY };
    this.touch(group, member);
    if (group.state === 'Stable') return { errorCode: ErrorCode.NONE, assignment: member.assignment };
    member.syncWaiter?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    const result = new Promise<SyncResult>((resolve) => (member.syncWaiter = resolve));
    if (memberId === group.leaderId) {
      group.state = 'Stable';
      for (const m of group.members.values()) {
        m.assignment = assignments.get(m.memberId) ?? EMPTY;
        const waiter = m.syncWaiter;
        m.syncWaiter = undefined;
        waiter?.({ errorCode: ErrorCode.NONE, assignment: m.assignment });
      }
    }
    return result;
  }

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.touch(group, member);
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(groupId: string, memberId: string): number {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(group, member);
    return ErrorCode.NONE;
  }

  /** Error code for an OffsetCommit by this member/generation (Kafka's rules). */
  validateCommit(groupId: string, memberId: string, generationId: number): number {
    const group = this.groups.get(groupId);
    if (generationId < 0 && (!group || group.state === 'Empty')) return ErrorCode.NONE;
    if (group?.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.touch(group, member);
    return ErrorCode.NONE;
  }

  describe(groupId: string): GroupDescription | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    return { state: g.state, generationId: g.generationId, protocolName: g.protocolName, leaderId: g.leaderId, members: [...g.members.keys()] };
  }

  /**
   * The broker went down: timers stop and parked requests are dropped. A
   * Stable group keeps its members and generation (as Kafka reloads them);
   * a group caught mid-rebalance loses its members and must be rejoined.
   */
  suspend(): void {
    for (const g of this.groups.values()) {
      clearTimeout(g.rebalanceTimer);
      g.inInitialDelay = false;
      for (const t of g.pending.values()) clearTimeout(t);
      g.pending.clear();
      for (const m of g.members.values()) {
        clearTimeout(m.sessionTimer);
        m.joinWaiter?.(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, m.memberId));
        m.syncWaiter?.({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY });
        m.joinWaiter = m.syncWaiter = undefined;
      }
      if (g.state !== 'Stable') {
        g.members.clear();
        g.becomeEmpty();
      }
    }
  }

  /** The broker is back: members get a fresh session timeout. */
  resume(): void {
    for (const g of this.groups.values()) for (const m of g.members.values()) this.touch(g, m);
  }

  private compatible(group: Group, req: JoinRequest): boolean {
    const others = [...group.members.values()].filter((m) => m.memberId !== req.memberId);
    if (others.length === 0) return true;
    if (req.protocolType !== group.protocolType) return false;
    return req.protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  /** Restarts the member's session timeout; an expired member is removed. */
  private touch(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = later(member.sessionTimeoutMs, () => {
      if (member.joinWaiter || member.syncWaiter) this.touch(group, member);
      else this.removeMember(group, member);
    });
  }

  private removeMember(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    member.joinWaiter?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    member.syncWaiter?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    member.joinWaiter = member.syncWaiter = undefined;
    if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
    else if (group.state !== 'Empty') this.prepareRebalance(group);
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        const waiter = m.syncWaiter;
        m.syncWaiter = undefined;
        waiter?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    clearTimeout(group.rebalanceTimer);
    if (wasEmpty && this.opts.initialRebalanceDelayMs > 0) {
      group.inInitialDelay = true;
      group.rebalanceTimer = later(this.opts.initialRebalanceDelayMs, () => {
        group.inInitialDelay = false;
        this.maybeCompleteJoin(group);
      });
      return;
    }
    const timeout = Math.max(0, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    group.rebalanceTimer = later(timeout, () => this.completeJoin(group));
    this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.inInitialDelay || group.pending.size > 0) return;
    for (const m of group.members.values()) if (!m.joinWaiter) return;
    this.completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are dropped, a new generation starts. */
  private completeJoin(group: Group): void {
    clearTimeout(group.rebalanceTimer);
    for (const m of [...group.members.values()]) {
      if (!m.joinWaiter) {
        clearTimeout(m.sessionTimer);
        group.members.delete(m.memberId);
      }
    }
    group.generationId += 1;
    if (group.members.size === 0) {
      group.becomeEmpty();
      return;
    }
    const protocolName = selectProtocol([...group.members.values()]);
    const leaderId = group.leaderId && group.members.has(group.leaderId) ? group.leaderId : [...group.members.keys()][0]!;
    group.leaderId = leaderId;
    group.protocolName = protocolName;
    group.state = 'CompletingRebalance';
    const all = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === protocolName)!.metadata,
    }));
    for (const m of group.members.values()) {
      const waiter = m.joinWaiter;
      m.joinWaiter = undefined;
      m.assignment = EMPTY;
      this.touch(group, m);
      waiter?.({ errorCode: ErrorCode.NONE, generationId: group.generationId, protocolName, leaderId, memberId: m.memberId, members: m.memberId === leaderId ? all : [] });
    }
  }
}
