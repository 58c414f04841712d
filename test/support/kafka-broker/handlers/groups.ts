/** Group membership APIs: JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3. */
import { Writer } from '../codec.js';
import type { GroupProtocol, JoinResult } from '../group-coordinator.js';
import { ApiKey, ErrorCode } from '../protocol.js';
import type { ApiHandler } from './types.js';

function writeJoin(r: JoinResult): Writer {
  const w = new Writer().int32(0).int16(r.errorCode).int32(r.generationId);
  w.string(r.protocolName).string(r.leaderId).string(r.memberId);
  return w.array(r.members, (w, m) => w.string(m.memberId).nullableString(m.groupInstanceId).bytes(m.metadata));
}

/** JoinGroup v5. Members join with an empty id first and get MEMBER_ID_REQUIRED (KIP-394). */
export const joinGroupHandler: ApiHandler = {
  apiKey: ApiKey.JoinGroup,
  minVersion: 5,
  maxVersion: 5,
  async handle(body, { apiKey, clientId, broker }) {
    const groupId = body.string();
    const sessionTimeoutMs = body.int32();
    const rebalanceTimeoutMs = body.int32();
    const memberId = body.string();
    const groupInstanceId = body.nullableString();
    const protocolType = body.string();
    const protocols = body.array((r): GroupProtocol => ({ name: r.string(), metadata: r.bytes() }));
    const fault = broker.faults.take(apiKey, []);
    if (fault) {
      return writeJoin({ errorCode: fault.errorCode, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] });
    }
    const result = await broker.groups.join({
      groupId, memberId, groupInstanceId, clientId, sessionTimeoutMs, rebalanceTimeoutMs, protocolType, protocols,
    });
    return writeJoin(result);
  },
};

/** SyncGroup v3: the leader's assignment is handed to every member. */
export const syncGroupHandler: ApiHandler = {
  apiKey: ApiKey.SyncGroup,
  minVersion: 3,
  maxVersion: 3,
  async handle(body, { apiKey, broker }) {
    const groupId = body.string();
    const generationId = body.int32();
    const memberId = body.string();
    body.nullableString(); // group instance id
    const assignments = new Map(body.array((r): [string, Buffer] => [r.string(), r.bytes()]));
    const fault = broker.faults.take(apiKey, []);
    const { errorCode, assignment } = fault
      ? { errorCode: fault.errorCode, assignment: Buffer.alloc(0) }
      : await broker.groups.sync(groupId, memberId, generationId, assignments);
    return new Writer().int32(0).int16(errorCode).bytes(assignment);
  },
};

/** Heartbeat v3. */
export const heartbeatHandler: ApiHandler = {
  apiKey: ApiKey.Heartbeat,
  minVersion: 3,
  maxVersion: 3,
  handle(body, { apiKey, broker }) {
    const groupId = body.string();
    const generationId = body.int32();
    const memberId = body.string();
    body.nullableString(); // group instance id
    const fault = broker.faults.take(apiKey, []);
    const errorCode = fault ? fault.errorCode : broker.groups.heartbeat(groupId, memberId, generationId);
    return new Writer().int32(0).int16(errorCode);
  },
};

/** LeaveGroup v3 (a batch of members). */
export const leaveGroupHandler: ApiHandler = {
  apiKey: ApiKey.LeaveGroup,
  minVersion: 3,
  maxVersion: 3,
  handle(body, { apiKey, broker }) {
    const groupId = body.string();
    const members = body.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() }));
    const fault = broker.faults.take(apiKey, []);
    const w = new Writer().int32(0);
    if (fault) return w.int16(fault.errorCode).array([], () => {});
    w.int16(ErrorCode.NONE);
    return w.array(members, (w, m) =>
      w.string(m.memberId).nullableString(m.groupInstanceId).int16(broker.groups.leave(groupId, m.memberId)),
    );
  },
};
