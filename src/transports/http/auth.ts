import type { IncomingMessage } from 'node:http';
import { AppError } from '../../domain/errors.js';

/** Who an HTTP or WebSocket client is, as far as this transport needs to know. */
export interface Identity {
  readonly subject: string;
}

/**
 * The authentication seam of the HTTP bridges: given the bearer token (undefined when the client sent
 * none), answer the identity or throw AppError UNAUTHENTICATED / PERMISSION_DENIED. The security
 * issue supplies the real one through App; until then every caller is accepted, as on the gRPC side.
 */
export type Authenticate = (token: string | undefined) => Identity | Promise<Identity>;

export const acceptEveryone: Authenticate = () => ({ subject: 'anonymous' });

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
