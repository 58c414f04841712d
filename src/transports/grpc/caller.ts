import type { ServerUnaryCall } from '@grpc/grpc-js';
import { AppError } from '../../domain/errors.js';
import type { Permissions } from '../../security/roles.js';
import type { Credentials, Security } from '../../security/security.js';

/** What every kind of call (unary or streaming) offers that identifies the caller. */
type CallerSource = Pick<ServerUnaryCall<unknown, unknown>, 'metadata' | 'getAuthContext'>;

/** The bearer token from the `authorization` metadata and the verified client certificate's CN. */
export function credentialsOf(call: CallerSource): Credentials {
  const header = call.metadata.get('authorization')[0];
  let token: string | undefined;
  if (header !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(String(header));
    if (!match) throw new AppError('UNAUTHENTICATED', 'the authorization metadata must be "Bearer <token>"');
    token = match[1];
  }
  const certificate = call.getAuthContext().sslPeerCertificate;
  const cn = certificate?.subject?.CN;
  return { token, certificateSubject: Array.isArray(cn) ? cn[0] : cn };
}

/** Who is calling, per the security settings (a local admin when security is off). */
export function callerOf(security: Security, call: CallerSource): Promise<Permissions> {
  return Promise.resolve().then(() => security.authenticate(credentialsOf(call)));
}
