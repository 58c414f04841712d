import type { ErasePersonalDataRequest, ErasePersonalDataResponse } from '../../../generated/audit/v1/audit_service.js';
import { toErasure } from '../../contract/erasure-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import type { Dispatcher } from '../../dispatch/dispatcher.js';
import { erasePersonalData } from '../../dispatch/erasure.js';
import { type PipelineDeps, unary } from './pipeline.js';

/** ErasePersonalData: roles admin and compliance; the erasure is logged (without the subject) and recorded as an event. */
export function createErasureHandler(deps: PipelineDeps & { dispatcher: Dispatcher; limits: InputLimits }) {
  return unary<ErasePersonalDataRequest, ErasePersonalDataResponse>(deps, 'ErasePersonalData', 'erase', async (request, caller) => {
    const { selector, reason } = toErasure(request, deps.limits);
    const result = await erasePersonalData(deps.dispatcher, { now: () => new Date() }, { selector, reason, requester: caller.identity.subject }, deps.security.personalData);
    deps.log.info({ rpc: 'ErasePersonalData', erasureId: result.erasureId, events: result.eventsChanged, values: result.valuesErased }, 'personal data erased');
    return result;
  });
}
