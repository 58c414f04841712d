import type { handleServerStreamingCall, handleUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from '../../observability/logger.js';
import type { Permissions } from '../../security/roles.js';
import type { Security } from '../../security/security.js';
import { callerOf } from './caller.js';
import { toGrpcError } from './status.js';

/**
 * The one pipeline every RPC goes through, as nice-grpc's handleUnaryCall with composed middleware
 * does it, here as two small functions: authenticate the caller, check the RPC's permission, run the
 * handler, map any error through the one status table (status.ts), and write one debug line per call
 * (rpc, status code, milliseconds, caller), which carries the trace id when tracing is on. Handlers
 * hold only what the RPC itself does.
 */

/** What an RPC requires of its caller beyond a valid sign-in. */
export type Permission = 'publish' | 'read' | 'ops' | 'erase' | 'signed-in';

export interface PipelineDeps {
  readonly security: Security;
  readonly log: Logger;
}

function authorize(security: Security, caller: Permissions, permission: Permission): void {
  switch (permission) {
    case 'publish': return security.requirePublish(caller);
    case 'read': return security.requireRead(caller);
    case 'ops': return security.requireOps(caller);
    case 'erase': return security.requireErase(caller);
    case 'signed-in': return;
  }
}

function logLine(deps: PipelineDeps, rpc: string, started: number): (code: string, caller?: Permissions) => void {
  return (code, caller) => deps.log.debug({
    rpc, code, ms: Math.round((performance.now() - started) * 10) / 10, caller: caller?.identity.subject,
  }, 'rpc');
}

/** A unary RPC: `run` gets the request and the authorized caller and returns the response. */
export function unary<Req, Res>(
  deps: PipelineDeps,
  rpc: string,
  permission: Permission,
  run: (request: Req, caller: Permissions) => Promise<Res> | Res,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const done = logLine(deps, rpc, performance.now());
    let caller: Permissions | undefined;
    callerOf(deps.security, call)
      .then((authenticated) => {
        caller = authenticated;
        authorize(deps.security, authenticated, permission);
        return run(call.request, authenticated);
      })
      .then((response) => {
        done('OK', caller);
        callback(null, response);
      }, (err: unknown) => {
        const status = toGrpcError(err, deps.log);
        done(String(status.code), caller);
        callback(status);
      });
  };
}

/**
 * A server-streaming RPC: `run` writes to the call and resolves when it has ended it (or when the
 * caller went away). A failure ends the stream with its status, unless the caller already left.
 */
export function serverStream<Req, Res>(
  deps: PipelineDeps,
  rpc: string,
  permission: Permission,
  run: (call: ServerWritableStream<Req, Res>, caller: Permissions) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    void streamed(deps, rpc, permission, run, call);
  };
}

/** serverStream's body, as a promise that settles when the call is over (Subscribe tracks it for shutdown). */
export async function streamed<Req, Res>(
  deps: PipelineDeps,
  rpc: string,
  permission: Permission,
  run: (call: ServerWritableStream<Req, Res>, caller: Permissions) => Promise<void>,
  call: ServerWritableStream<Req, Res>,
): Promise<void> {
  const done = logLine(deps, rpc, performance.now());
  let caller: Permissions | undefined;
  try {
    caller = await callerOf(deps.security, call);
    authorize(deps.security, caller, permission);
    await run(call, caller);
    done(call.cancelled ? 'CANCELLED' : 'OK', caller);
  } catch (err) {
    const status = toGrpcError(err, deps.log);
    done(String(status.code), caller);
    if (!call.cancelled) call.emit('error', status);
  }
}
