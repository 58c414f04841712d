import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { parseConfig } from '../../src/config/load.js';
import { AppError } from '../../src/domain/errors.js';
import { Permissions } from '../../src/security/roles.js';
import { MAX_LOGGED_UNKNOWN_ROLES, Security } from '../../src/security/security.js';
import { SECRET, token } from '../support/security.js';

const as = (...roles: string[]) => new Permissions({ subject: 's', roles, scopes: [] });

test('canErase: admin and compliance; canReadMetrics: admin and operator; nothing from Object.prototype names', () => {
  const table = ['admin', 'publisher', 'security', 'compliance', 'operator', 'auditor', 'constructor', '__proto__', 'toString', 'hasOwnProperty']
    .map((role) => [role, as(role).canErase, as(role).canReadMetrics, as(role).canOperate, as(role).ownEventsOnly]);
  assert.deepEqual(table, [
    ['admin', true, true, true, false],
    ['publisher', false, false, false, false],
    ['security', false, false, false, false],
    ['compliance', true, false, false, false],
    ['operator', false, true, false, false],
    ['auditor', false, false, false, false],
    ['constructor', false, false, false, true],
    ['__proto__', false, false, false, true],
    ['toString', false, false, false, true],
    ['hasOwnProperty', false, false, false, true],
  ]);
  assert.equal(as('auditor', 'toString').presentationKey, as('auditor').presentationKey);
});

test('unknown role names are logged once each, and at most a bounded number of names', async () => {
  const warnings: string[] = [];
  const settings = parseConfig({ security: { enabled: true, jwt: { secret: SECRET } } }).security;
  const security = await Security.create(settings, '127.0.0.1', (m) => warnings.push(m));
  const auth = async (roles: string[]) => security.authenticate({ token: await token('x', roles) });
  await auth(['auditor', 'auditr', '__proto__']);
  await auth(['auditr', '__proto__', 'constructor']);
  assert.deepEqual(warnings, [
    'ignoring unknown role "auditr" (not in the roles table)',
    'ignoring unknown role "__proto__" (not in the roles table)',
    'ignoring unknown role "constructor" (not in the roles table)',
  ]);
  const many = Array.from({ length: MAX_LOGGED_UNKNOWN_ROLES + 500 }, (_, i) => `role-${i}-${'x'.repeat(200)}`);
  await auth(many);
  await auth(['yet-another']);
  assert.equal(warnings.length, MAX_LOGGED_UNKNOWN_ROLES + 1);
  assert.match(warnings.at(-1)!, /distinct unknown role names seen; further ones are ignored without logging/);
  assert.ok(warnings.every((w) => w.length < 200), 'long names are cut in the log');
});

test('requireErase: PERMISSION_DENIED except for admin and compliance', async () => {
  const settings = parseConfig({ security: { enabled: true, jwt: { secret: SECRET } } }).security;
  const security = await Security.create(settings, '127.0.0.1', () => undefined);
  for (const role of ['admin', 'compliance']) security.requireErase(as(role));
  for (const role of ['operator', 'auditor', 'security', 'publisher', 'constructor']) {
    assert.throws(() => security.requireErase(as(role)), (e: unknown) => e instanceof AppError && e.code === 'PERMISSION_DENIED');
  }
});

test('a certificate subject named like an Object.prototype member gets no roles, not an error', async () => {
  const settings = parseConfig({ security: { enabled: true, tls: { client_ca_file: '/dev/null' }, certificate_roles: { billing: ['publisher'] } } }).security;
  const security = await Security.create(settings, '127.0.0.1', () => undefined);
  assert.equal((await security.authenticate({ certificateSubject: 'billing' })).canPublish, true);
  for (const cn of ['constructor', '__proto__', 'toString']) {
    const p = await security.authenticate({ certificateSubject: cn });
    assert.deepEqual([p.identity.roles, p.ownEventsOnly], [[], true]);
  }
});
