import { nearest } from './adapters/resolve.js';
import type { ConfigIssue } from './errors.js';
import type { TqConfig } from './config.js';

/**
 * Every TqConfig key. Typed against TqConfig, so a key added there without a row here fails the
 * typecheck instead of being rejected as unknown at run time.
 */
const knownConfigKeys: Record<keyof TqConfig, true> = {
  broker: true,
  resultBackend: true,
  adapters: true,
  brokerOptions: true,
  resultBackendOptions: true,
  defaultQueue: true,
  routes: true,
  serializer: true,
  serializers: true,
  accept: true,
  resultTtlMs: true,
  publishRetry: true,
  maxPayloadBytes: true,
  resultExtended: true,
  hostname: true,
  logger: true,
  logLevel: true,
  deadLetterSuffix: true,
  sendSentEvent: true,
  schedules: true,
  outbox: true,
};

/** Issues for keys of `config` that TqConfig does not have (a misspelt key is otherwise ignored), with the nearest known key. */
export function unknownConfigKeys(config: object, where: string): ConfigIssue[] {
  const known = Object.keys(knownConfigKeys);
  return Object.keys(config)
    .filter((key) => !Object.hasOwn(knownConfigKeys, key))
    .map((key) => {
      const suggestion = nearest(key, known);
      return { path: `${where}${key}`, message: `unknown setting${suggestion ? ` (did you mean "${suggestion}"?)` : ''}` };
    });
}
