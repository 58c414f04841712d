import assert from '../support/assert.js';
import { describe, test } from '@jest/globals';
import fc from 'fast-check';
import { SignJWT, type JWTPayload } from 'jose';
import { parseConfig, type ConfigInput } from '../../src/config/load.js';
import { AppError } from '../../src/domain/errors.js';
import { TokenVerifier } from '../../src/security/tokens.js';

const SECRET = 'unit-test-secret-of-at-least-32-bytes!!';
const NOW = 1_750_000_000; // seconds; every check below runs at this instant
const HOUR = 3600;

type Jwt = NonNullable<NonNullable<ConfigInput['security']>['jwt']>;

function verifier(jwt: Partial<Jwt> = {}): Promise<TokenVerifier> {
  return TokenVerifier.create(parseConfig({ security: { jwt: { secret: SECRET, ...jwt } } }).security.jwt);
}

/** Signs exactly these claims (no defaults added), so tests control exp, iat and nbf. */
function sign(claims: JWTPayload): Promise<string> {
  return new SignJWT({ sub: 'alice', roles: ['auditor'], ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(SECRET));
}

/** The refusal message, or 'ok'. */
async function outcome(v: TokenVerifier, claims: JWTPayload): Promise<string> {
  try {
    await v.verify(await sign(claims), NOW * 1000);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof AppError && err.code === 'UNAUTHENTICATED', `not UNAUTHENTICATED: ${String(err)}`);
    return err.message;
  }
}

describe('token time claims', () => {
  test('exp is required by default, and optional with allow_tokens_without_exp', async () => {
    assert.equal(await outcome(await verifier(), { iat: NOW }), 'the token has no exp claim');
    assert.equal(await outcome(await verifier({ allow_tokens_without_exp: true }), { iat: NOW }), 'ok');
    assert.equal(await outcome(await verifier({ allow_tokens_without_exp: 'true' as never }), {}), 'ok');
  });

  test('a token living longer than max_token_lifetime (24h by default) is refused', async () => {
    const v = await verifier();
    assert.equal(await outcome(v, { iat: NOW - 60, exp: NOW - 60 + 24 * HOUR }), 'ok');
    assert.match(await outcome(v, { iat: NOW - 60, exp: NOW - 60 + 24 * HOUR + 1 }), /^the token's exp claim is too far after its iat claim/);
    // Without iat, what is left of its life counts.
    assert.equal(await outcome(v, { exp: NOW + 24 * HOUR }), 'ok');
    assert.match(await outcome(v, { exp: NOW + 25 * HOUR }), /^the token's exp claim is too far in the future/);
    const short = await verifier({ max_token_lifetime: '15m' });
    assert.equal(await outcome(short, { iat: NOW, exp: NOW + 15 * 60 }), 'ok');
    assert.match(await outcome(short, { iat: NOW, exp: NOW + HOUR }), /exp claim/);
    // allow_tokens_without_exp does not lift the cap on tokens that do carry exp.
    assert.match(await outcome(await verifier({ allow_tokens_without_exp: true }), { iat: NOW, exp: NOW + 48 * HOUR }), /exp claim/);
  });

  test('iat or nbf in the future beyond the 5 s tolerance is refused; within it, accepted', async () => {
    const v = await verifier();
    assert.equal(await outcome(v, { iat: NOW + 5, nbf: NOW + 5, exp: NOW + HOUR }), 'ok');
    assert.equal(await outcome(v, { iat: NOW + 6, exp: NOW + HOUR }), "the token's iat claim is in the future");
    assert.equal(await outcome(v, { iat: NOW, nbf: NOW + 6, exp: NOW + HOUR }), 'the token is not valid yet (its nbf claim is in the future)');
  });

  test('time claims that are not numbers are refused, naming the claim', async () => {
    const v = await verifier();
    assert.equal(await outcome(v, { iat: NOW, exp: String(NOW + HOUR) as never }), "the token's exp claim is not acceptable");
    assert.equal(await outcome(v, { iat: 'now' as never, exp: NOW + HOUR }), "the token's iat claim is not acceptable");
  });

  test('max_token_lifetime must be a positive duration', () => {
    assert.throws(() => parseConfig({ security: { jwt: { max_token_lifetime: 0 } } }), /max_token_lifetime/);
    assert.equal(parseConfig({}).security.jwt.max_token_lifetime, 24 * HOUR * 1000);
    assert.equal(parseConfig({}).security.jwt.allow_tokens_without_exp, false);
  });

  test('any mix of exp, iat and nbf: accepted exactly when the rules say so, refused naming the claim at fault', async () => {
    const offset = fc.option(fc.integer({ min: -3 * 24 * HOUR, max: 3 * 24 * HOUR }), { nil: undefined });
    const near = fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined }); // around the tolerance edges
    const verifiers = new Map<string, TokenVerifier>();
    const lifetimes = [60, HOUR, 24 * HOUR];
    await fc.assert(fc.asyncProperty(
      fc.record({ exp: fc.oneof(offset, near), iat: fc.oneof(offset, near), nbf: fc.oneof(offset, near) }),
      fc.boolean(), fc.constantFrom(...lifetimes),
      async (offsets, allowNoExp, lifetime) => {
        const key = `${allowNoExp}/${lifetime}`;
        if (!verifiers.has(key)) verifiers.set(key, await verifier({ allow_tokens_without_exp: allowNoExp, max_token_lifetime: lifetime * 1000 }));
        const at = (o: number | undefined) => (o === undefined ? undefined : NOW + o);
        const claims = { exp: at(offsets.exp), iat: at(offsets.iat), nbf: at(offsets.nbf) };
        const expected = (() => {
          const { exp, iat, nbf } = claims;
          if (exp === undefined && !allowNoExp) return 'no exp';
          if (nbf !== undefined && nbf > NOW + 5) return 'nbf';
          if (exp !== undefined && exp <= NOW - 5) return 'expired';
          if (iat !== undefined && iat > NOW + 5) return 'iat';
          if (exp !== undefined && (iat !== undefined ? exp - iat : exp - NOW - 5) > lifetime) return 'lifetime';
          return 'ok';
        })();
        const got = await outcome(verifiers.get(key)!, Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)));
        const kind = got === 'ok' ? 'ok'
          : got === 'the token has no exp claim' ? 'no exp'
          : got === 'the token has expired' ? 'expired'
          : /nbf claim/.test(got) ? 'nbf'
          : /iat claim is in the future/.test(got) ? 'iat'
          : /exp claim is too far/.test(got) ? 'lifetime'
          : got;
        assert.equal(kind, expected, JSON.stringify({ claims, allowNoExp, lifetime, got }));
        assert.ok(!got.includes(SECRET));
      },
    ), { numRuns: 300 });
  });
});
