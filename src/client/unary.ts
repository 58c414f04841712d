import { type CallOptions, type ClientUnaryCall, Metadata, type ServiceError } from '@grpc/grpc-js';
import { abortReason, AuditStreamError } from './errors.js';

type Start<Res> = (metadata: Metadata, options: CallOptions, callback: (err: ServiceError | null, res: Res) => void) => ClientUnaryCall;

/**
 * One unary call as a promise: bounded by `timeoutMs` (a gRPC deadline, so the server stops working
 * on it too), cancelled when `signal` aborts (rejecting with the signal's reason), and failing with
 * an AuditStreamError that carries the status, the field and the retry hint.
 */
export function unaryCall<Res>(start: Start<Res>, signal: AbortSignal, timeoutMs: number): Promise<Res> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => call.cancel();
    const call = start(new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) reject(abortReason(signal));
      else if (err) reject(AuditStreamError.fromServiceError(err));
      else resolve(res);
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
