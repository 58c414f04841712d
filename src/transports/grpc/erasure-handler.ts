import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { ErasePersonalDataRequest, ErasePersonalDataResponse } from '../../../generated/audit/v1/audit_service.js';
import { toErasure } from '../../contract/erasure-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import type { Dispatcher } from '../../dispatch/dispatcher.js';
import { erasePersonalData } from '../../dispatch/erasure.js';
import type { Logger } from '../../observability/logger.js';
import type { Security } from '../../security/security.js';
import { callerOf } from './caller.js';
import { toGrpcError } from './status.js';

/** ErasePersonalData: roles admin and compliance; the erasure is logged (without the subject) and recorded as an event. */
export function createErasureHandler(deps: { dispatcher: Dispatcher; limits: InputLimits; security: Security; logger: Logger }) {
  return (call: ServerUnaryCall<ErasePersonalDataRequest, ErasePersonalDataResponse>, callback: sendUnaryData<ErasePersonalDataResponse>): void => {
    callerOf(deps.security, call).then(async (caller) => {
      deps.security.requireErase(caller);
      const { selector, reason } = toErasure(call.request, deps.limits);
      const result = await erasePersonalData(deps.dispatcher, { now: () => new Date() }, { selector, reason, requester: caller.identity.subject }, deps.security.personalData);
      deps.logger.info({ rpc: 'ErasePersonalData', erasureId: result.erasureId, events: result.eventsChanged, values: result.valuesErased }, 'personal data erased');
      callback(null, result);
    }).catch((err: unknown) => callback(toGrpcError(err, deps.logger)));
  };
}
