import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AppError } from '../../domain/errors.js';
import type { Permissions } from '../../security/roles.js';
import type { Credentials } from '../../security/security.js';

/** Who an HTTP or WebSocket client is: its identity and what the roles table lets it do. */
export type Identity = Permissions;

/** The verified client certificate's subject CN, when the request came over mutual TLS. */
export function certificateSubjectOf(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (!socket.authorized || !socket.getPeerCertificate) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** What the client presented: a bearer token and/or a client certificate. */
export function credentialsOf(req: IncomingMessage, url: URL): Credentials {
  return { token: tokenOf(req, url), certificateSubject: certificateSubjectOf(req) };
}

/**
 * The token from `Authorization: Bearer <token>`, or else from the `access_token` query parameter,
 * since a browser cannot set headers on a WebSocket or an EventSource.
 */
export function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) throw new AppError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
    return match[1];
  }
  return url.searchParams.get('access_token') ?? undefined;
}
