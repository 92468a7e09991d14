/** How kafkajs errors reach core: what is retried, what is not, and that no secret is echoed. */
import { AuthError, BrokerConnectionError, isTqError } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { toTqError } from '../src/errors.js';

describe('kafkajs errors at the adapter boundary', () => {
  it('a refused SASL login is an AuthError (TQ_AUTH_FAILED, not retried), its URL redacted', () => {
    const native = Object.assign(new Error('SASL PLAIN authentication failed for kafka://alice:s3cret@k:9093'), { name: 'KafkaJSSASLAuthenticationError' });
    const error = toTqError(native, 'connecting');
    expect(error).toBeInstanceOf(AuthError);
    expect(isTqError(error, 'TQ_AUTH_FAILED')).toBe(true);
    expect(error.message).not.toContain('s3cret');
  });

  it('a lost connection is a BrokerConnectionError, which core retries', () => {
    const native = Object.assign(new Error('Connection closed'), { name: 'KafkaJSConnectionClosedError' });
    expect(toTqError(native, 'publishing')).toBeInstanceOf(BrokerConnectionError);
  });
});
