import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { AppError } from '../../src/domain/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { toGrpcError } from '../../src/transports/grpc/status.js';

test('a field path naming a non-ASCII metadata key becomes an escaped trailer, not a thrown error', () => {
  // grpc-js refuses metadata values that are not printable ASCII: before escaping, this threw while an
  // error was being answered (an unhandled rejection that stops the process).
  const err = toGrpcError(AppError.invalid('event.metadata.ключ.__proto__', 'this key is not accepted'), createLogger('silent'));
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.equal(err.details, 'event.metadata.ключ.__proto__: this key is not accepted');
  assert.deepEqual(err.metadata!.get('invalid-field'), ['event.metadata.\\u043a\\u043b\\u044e\\u0447.__proto__']);
});
