import { readFileSync } from 'node:fs';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/schema.js';
import { AppError } from '../domain/errors.js';
import type { Identity } from './identity.js';

type JwtSettings = Config['security']['jwt'];
type Key = KeyObject | Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey;

/** Loads the verification key once: an HS256 secret, an RS256/ES256 public key (PEM) or a JWKS file. */
async function loadKey(s: JwtSettings): Promise<{ key: Key; algorithms: string[] }> {
  if (s.jwks_file) return { key: createLocalJWKSet(JSON.parse(readFileSync(s.jwks_file, 'utf8'))), algorithms: ['RS256', 'ES256'] };
  if (s.public_key_file) {
    const pem = readFileSync(s.public_key_file, 'utf8');
    const algorithm = s.algorithm === 'ES256' ? 'ES256' : 'RS256';
    return { key: await importSPKI(pem, algorithm), algorithms: [algorithm] };
  }
  if (s.secret) return { key: createSecretKey(Buffer.from(s.secret, 'utf8')), algorithms: ['HS256'] };
  throw new Error('security.jwt needs one of secret, public_key_file or jwks_file');
}

function claimList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

/**
 * Verifies bearer tokens (JWT, with jose): signature, expiry and not-before (with a small clock
 * tolerance), issuer and audience when configured; the subject, roles and scopes come from the
 * configured claims. Any failure is UNAUTHENTICATED with a reason that reveals nothing secret.
 */
export class TokenVerifier {
  private constructor(
    private readonly settings: JwtSettings,
    private readonly key: Key,
    private readonly algorithms: string[],
  ) {}

  static async create(settings: JwtSettings): Promise<TokenVerifier> {
    const { key, algorithms } = await loadKey(settings);
    return new TokenVerifier(settings, key, algorithms);
  }

  async verify(token: string | undefined): Promise<Identity> {
    if (!token) throw new AppError('UNAUTHENTICATED', 'a bearer token is required');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as JWTVerifyGetKey, {
        algorithms: this.algorithms,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTolerance: 5,
      }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      const reason = code === 'ERR_JWT_EXPIRED' ? 'the token has expired'
        : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' ? `the token's ${(err as { claim?: string }).claim ?? ''} claim is not acceptable`
        : 'the token is not valid';
      throw new AppError('UNAUTHENTICATED', reason);
    }
    const subject = payload[this.settings.subject_claim];
    if (typeof subject !== 'string' || subject === '') throw new AppError('UNAUTHENTICATED', `the token has no ${this.settings.subject_claim} claim`);
    return { subject, roles: claimList(payload[this.settings.roles_claim]), scopes: claimList(payload[this.settings.scopes_claim]) };
  }
}
