import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { AppError } from '../domain/errors.js';
import type { Viewer } from '../domain/ports.js';
import { LOCAL_ADMIN, type Identity } from './identity.js';
import { ConcurrencyLimiter, RateLimiter } from './rate-limit.js';
import { DEFAULT_PII_KEYS, Redactor } from './redaction.js';
import { Permissions } from './roles.js';
import { TokenVerifier } from './tokens.js';
import { viewerFor } from './viewer.js';

type SecuritySettings = Config['security'];

/** What a transport learned about the caller before asking who it is. */
export interface Credentials {
  /** The bearer token, if any. */
  readonly token?: string | undefined;
  /** The subject CN of a verified client certificate (mutual TLS), if any. */
  readonly certificateSubject?: string | undefined;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Distinct unknown role names logged; beyond it they are no longer logged, so callers cannot grow memory. */
export const MAX_LOGGED_UNKNOWN_ROLES = 1_000;

/**
 * Authentication, the roles table, redaction and rate limits, for every transport alike. With
 * security off, every caller is a local admin; the service then refuses to listen beyond loopback
 * unless security.allow_insecure is set.
 */
export class Security {
  readonly publishRate: RateLimiter;
  readonly subscriptions: ConcurrencyLimiter;
  readonly connectionRate: RateLimiter;
  readonly connections: ConcurrencyLimiter;
  private readonly redactor: Redactor;
  private readonly localAdmin = new Permissions(LOCAL_ADMIN);
  /** Unknown role names already logged (at most MAX_LOGGED_UNKNOWN_ROLES). */
  private readonly unknownRoles = new Set<string>();
  private unknownRolesFull = false;
  private readonly onUnknownRole = (name: string): void => this.unknownRole(name);

  private constructor(
    readonly settings: SecuritySettings,
    private readonly tokens: TokenVerifier | undefined,
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    const r = settings.rate_limits;
    this.publishRate = new RateLimiter(r.publish_per_second, r.publish_burst, 'publish');
    this.subscriptions = new ConcurrencyLimiter(r.max_subscriptions_per_subject, 'concurrent subscriptions per caller');
    this.connectionRate = new RateLimiter(r.connections_per_ip_per_second, r.connections_per_ip_per_second, 'connection');
    this.connections = new ConcurrencyLimiter(r.max_connections_per_ip, 'connections per address');
    this.redactor = new Redactor(settings.pii_keys ?? DEFAULT_PII_KEYS);
  }

  static async create(settings: SecuritySettings, host: string, warn: (message: string) => void): Promise<Security> {
    if (!settings.enabled) {
      if (!LOOPBACK.test(host) && !settings.allow_insecure) {
        throw new Error(`refusing to listen on ${host} with security off: enable security, or set security.allow_insecure: true`);
      }
      warn(`security is off: every caller is treated as an admin${LOOPBACK.test(host) ? ' (listening on loopback only)' : ''}`);
      return new Security(settings, undefined, warn);
    }
    const { jwt } = settings;
    const hasTokens = Boolean(jwt.secret || jwt.public_key_file || jwt.jwks_file);
    if (!hasTokens && !settings.tls.client_ca_file) throw new Error('security.enabled needs security.jwt keys or security.tls.client_ca_file (mutual TLS)');
    return new Security(settings, hasTokens ? await TokenVerifier.create(jwt) : undefined, warn);
  }

  /** TLS material for both servers, when configured. */
  tlsFiles(): { cert: Buffer; key: Buffer; ca?: Buffer | undefined } | undefined {
    const { cert_file, key_file, client_ca_file } = this.settings.tls;
    if (!cert_file || !key_file) return undefined;
    return { cert: readFileSync(cert_file), key: readFileSync(key_file), ca: client_ca_file ? readFileSync(client_ca_file) : undefined };
  }

  /** Who the caller is: a token wins over a client certificate; UNAUTHENTICATED when neither verifies. */
  async authenticate(credentials: Credentials): Promise<Permissions> {
    if (!this.settings.enabled) return this.localAdmin;
    let identity: Identity | undefined;
    if (credentials.token !== undefined && this.tokens) identity = await this.tokens.verify(credentials.token);
    else if (credentials.certificateSubject) {
      const roles = this.settings.certificate_roles;
      const subject = credentials.certificateSubject;
      identity = { subject, roles: (Object.hasOwn(roles, subject) ? roles[subject] : undefined) ?? [], scopes: [] };
    } else if (this.tokens) identity = await this.tokens.verify(undefined);
    if (!identity) throw new AppError('UNAUTHENTICATED', 'a client certificate or a bearer token is required');
    return new Permissions(identity, this.onUnknownRole);
  }

  /** Logs each unknown role name once (a typo in the issuer's roles, or a hostile token), up to a bound. */
  private unknownRole(name: string): void {
    if (this.unknownRoles.has(name) || this.unknownRolesFull) return;
    if (this.unknownRoles.size >= MAX_LOGGED_UNKNOWN_ROLES) {
      this.unknownRolesFull = true;
      this.warn(`${MAX_LOGGED_UNKNOWN_ROLES} distinct unknown role names seen; further ones are ignored without logging`);
      return;
    }
    this.unknownRoles.add(name);
    this.warn(`ignoring unknown role ${JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name)} (not in the roles table)`);
  }

  viewer(permissions: Permissions): Viewer | undefined {
    return permissions === this.localAdmin ? undefined : viewerFor(permissions, this.redactor);
  }

  /** Per-subject publish rate (token bucket); only with security on, where callers are known. */
  limitPublish(p: Permissions, events: number): void {
    if (this.settings.enabled) this.publishRate.take(p.identity.subject, events);
  }

  /** Reserves one of the subject's concurrent subscriptions; the returned function frees it. */
  holdSubscription(p: Permissions): () => void {
    return this.settings.enabled ? this.subscriptions.acquire(p.identity.subject) : () => undefined;
  }

  /**
   * Admins may act on any subscription; others on the ones they opened. Callers answer another
   * caller's subscription exactly as an unknown one (NOT_FOUND), so ids cannot be probed.
   */
  mayActOn(p: Permissions, owner: string): boolean {
    return p.canOperate || owner === p.identity.subject;
  }

  requirePublish(p: Permissions): void {
    if (!p.canPublish) throw new AppError('PERMISSION_DENIED', `${p.identity.subject} may not publish`);
  }

  requireRead(p: Permissions): void {
    if (!p.canRead) throw new AppError('PERMISSION_DENIED', `${p.identity.subject} may not subscribe or query (role publisher)`);
  }

  /** What erasure removes: the values redaction treats as personal data (security.pii_keys and shapes). */
  readonly personalData = (key: string, value: unknown): boolean => this.redactor.isPersonal(key, value);

  requireErase(p: Permissions): void {
    if (!p.canErase) throw new AppError('PERMISSION_DENIED', `${p.identity.subject} may not erase events (roles admin and compliance)`);
  }

  /** GET /metrics with security on (roles admin and operator). */
  requireMetrics(p: Permissions): void {
    if (!p.canReadMetrics) throw new AppError('PERMISSION_DENIED', `${p.identity.subject} may not read metrics (roles admin and operator)`);
  }

  requireOps(p: Permissions): void {
    if (!p.canOperate) throw new AppError('PERMISSION_DENIED', `${p.identity.subject} may not call this operations RPC (admin only)`);
  }
}
