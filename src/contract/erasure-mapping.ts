import type { ErasePersonalDataRequest } from '../../generated/audit/v1/audit_service.js';
import { AppError } from '../domain/errors.js';
import type { ErasureSelector } from '../domain/erasure.js';
import type { InputLimits } from './limits.js';

/** Validates an ErasePersonalData request: one criterion, non-empty, within the string limit. */
export function toErasure(req: ErasePersonalDataRequest, limits: InputLimits): { selector: ErasureSelector; reason: string } {
  const bounded = (field: string, value: string, required: boolean): string => {
    if (required && value === '') throw AppError.invalid(field, 'is required');
    if (value.length > limits.maxStringLength) throw AppError.invalid(field, `is ${value.length} characters, the limit is ${limits.maxStringLength}`);
    return value;
  };
  const reason = bounded('reason', req.reason, false);
  const subject = req.subject;
  if (subject?.$case === 'userId') return { selector: { userId: bounded('user_id', subject.userId, true) }, reason };
  if (subject?.$case === 'metadata') {
    return {
      selector: { metadataKey: bounded('metadata.key', subject.metadata.key, true), metadataValue: bounded('metadata.value', subject.metadata.value, true) },
      reason,
    };
  }
  throw AppError.invalid('subject', 'give user_id or metadata');
}
