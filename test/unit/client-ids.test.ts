import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { withId } from '../../src/client/publish.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('the client library draws time-ordered UUIDv7 ids, as the server does, and keeps a given id', () => {
  const ids = Array.from({ length: 200 }, () => withId({ action: 'create' }).id);
  for (const id of ids) assert.match(id, V7);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids, 'each after the one drawn before');
  const given = '0190a2b4-5c6d-4e7f-8a9b-0c1d2e3f4a5b';
  assert.equal(withId({ id: given }).id, given);
});
