import { readFileSync } from 'node:fs';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createLocalJWKSet, importSPKI, type JSONWebKeySet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/schema.js';
import { AppError } from '../domain/errors.js';
import type { Identity } from './identity.js';

type JwtSettings = Config['security']['jwt'];
type Key = KeyObject | Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey;

/** Loads the verification key once: an HS256 secret, an RS256/ES256 public key (PEM) or a JWKS file. */
async function loadKey(s: JwtSettings): Promise<{ key: Key; algorithms: string[] }> {
  if (s.jwks_file) return { key: createLocalJWKSet(JSON.parse(readFileSync(s.jwks_file, 'utf8')) as JSONWebKeySet), algorithms: ['RS256', 'ES256'] };
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

/** Seconds of clock difference tolerated between the token's issuer and this server (exp, nbf, iat). */
export const CLOCK_TOLERANCE_SECONDS = 5;
/** How long a verified token without exp (allowed by security.jwt.allow_tokens_without_exp) stays known. */
const NO_EXP_TTL_MS = 60_000;

/** Why jose refused a token, in words that name the claim but reveal nothing secret. */
function refusal(err: unknown): string {
  const { code, claim, reason } = err as { code?: string | undefined; claim?: string | undefined; reason?: string | undefined };
  if (code === 'ERR_JWT_EXPIRED') return 'the token has expired';
  if (code !== 'ERR_JWT_CLAIM_VALIDATION_FAILED') return 'the token is not valid';
  if (reason === 'missing') return `the token has no ${claim} claim`;
  if (claim === 'nbf' && reason === 'check_failed') return 'the token is not valid yet (its nbf claim is in the future)';
  return `the token's ${claim ?? ''} claim is not acceptable`;
}

/**
 * Verifies bearer tokens (JWT, with jose): signature, expiry and not-before (with a small clock
 * tolerance), issuer and audience when configured; the subject, roles and scopes come from the
 * configured claims. `exp` is required unless security.jwt.allow_tokens_without_exp, a token may
 * live at most security.jwt.max_token_lifetime (exp - iat, or exp - now without iat), and one issued
 * in the future (iat beyond the tolerance) is refused. Any failure is UNAUTHENTICATED with a reason
 * that names the claim but reveals nothing secret.
 */
export class TokenVerifier {
  private constructor(
    private readonly settings: JwtSettings,
    private readonly key: Key,
    private readonly algorithms: string[],
  ) {}

  /** Tokens whose signature and claims verified, until they expire (bounded: 10,000 tokens). */
  private readonly verified = new LRUCache<string, JWTPayload>({ max: 10_000, ttl: NO_EXP_TTL_MS, ttlAutopurge: false });

  static async create(settings: JwtSettings): Promise<TokenVerifier> {
    const { key, algorithms } = await loadKey(settings);
    return new TokenVerifier(settings, key, algorithms);
  }

  async verify(token: string | undefined, nowMs = Date.now()): Promise<Identity> {
    if (!token) throw new AppError('UNAUTHENTICATED', 'a bearer token is required');
    const known = this.verified.get(token);
    if (known) return this.identityOf(known, nowMs);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as JWTVerifyGetKey, {
        algorithms: this.algorithms,
        ...(this.settings.issuer === undefined ? {} : { issuer: this.settings.issuer }),
        ...(this.settings.audience === undefined ? {} : { audience: this.settings.audience }),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(nowMs),
        requiredClaims: this.settings.allow_tokens_without_exp ? [] : ['exp'],
      }));
    } catch (err) {
      throw new AppError('UNAUTHENTICATED', refusal(err));
    }
    const identity = this.identityOf(payload, nowMs);
    // Verified once, a token is known until it expires: a stream of calls pays for its signature once.
    const ttl = payload.exp === undefined ? NO_EXP_TTL_MS : (payload.exp + CLOCK_TOLERANCE_SECONDS) * 1000 - nowMs;
    if (ttl > 0) this.verified.set(token, payload, { ttl });
    return identity;
  }

  /** The claims of a token whose signature verified, checked against the clock (again, when it comes from the cache). */
  private identityOf(payload: JWTPayload, nowMs: number): Identity {
    const now = nowMs / 1000;
    if (payload.exp !== undefined && now > payload.exp + CLOCK_TOLERANCE_SECONDS) throw new AppError('UNAUTHENTICATED', 'the token has expired');
    if (payload.nbf !== undefined && payload.nbf > now + CLOCK_TOLERANCE_SECONDS) throw new AppError('UNAUTHENTICATED', "the token's nbf claim is not acceptable");
    this.checkTimes(payload, now);
    const subject = payload[this.settings.subject_claim];
    if (typeof subject !== 'string' || subject === '') throw new AppError('UNAUTHENTICATED', `the token has no ${this.settings.subject_claim} claim`);
    return { subject, roles: claimList(payload[this.settings.roles_claim]), scopes: claimList(payload[this.settings.scopes_claim]) };
  }

  /** What jose leaves to us: iat not in the future, and the lifetime cap. jose has checked they are numbers. */
  private checkTimes({ iat, exp }: JWTPayload, now: number): void {
    if (iat !== undefined && iat > now + CLOCK_TOLERANCE_SECONDS) throw new AppError('UNAUTHENTICATED', "the token's iat claim is in the future");
    if (exp === undefined) return;
    const maxSeconds = this.settings.max_token_lifetime / 1000;
    // Without iat the remaining lifetime is all we can measure; the tolerance covers our clock being behind.
    const lifetime = iat !== undefined ? exp - iat : exp - now - CLOCK_TOLERANCE_SECONDS;
    if (lifetime > maxSeconds) {
      const what = iat !== undefined ? 'too far after its iat claim' : 'too far in the future';
      throw new AppError('UNAUTHENTICATED', `the token's exp claim is ${what}: it lives longer than security.jwt.max_token_lifetime allows`);
    }
  }
}
