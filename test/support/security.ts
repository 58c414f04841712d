import { Metadata } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import selfsigned from 'selfsigned';

export const SECRET = 'test-secret-of-at-least-32-bytes-long!!';

/** A signed HS256 token for a subject with roles; `expiresIn` may be negative for an expired one. */
export function token(subject: string, roles: string[], options: { secret?: string; expiresInSeconds?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (options.expiresInSeconds ?? 300))
    .sign(Buffer.from(options.secret ?? SECRET));
}

/** Per-call credentials carrying a bearer token (over plaintext, for tests on loopback). */
export function bearer(jwt: string): { metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${jwt}`);
  return { metadata };
}

/** A self-signed CA/server certificate for localhost and 127.0.0.1, and a client certificate it signed. */
export async function certificates(clientCn: string) {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048, algorithm: 'sha256',
    extensions: [{ name: 'basicConstraints', cA: true }, { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    clientCertificate: { cn: clientCn },
  });
  if (!pems.clientcert || !pems.clientprivate) throw new Error('selfsigned made no client certificate');
  return { cert: pems.cert, key: pems.private, clientCert: pems.clientcert, clientKey: pems.clientprivate };
}
