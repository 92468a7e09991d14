import type { TqAdapter } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { describeDeadLetters } from './app/dead-letters.js';
import { describeApp } from './app/index.js';
import { describeResultBackend } from './backend/index.js';
import { describeBroker } from './broker/index.js';
import type { ConformanceOptions } from './options.js';

/**
 * Registers every suite the adapter is concerned by: the descriptor checks, the broker suite
 * (when it has createBroker), the result backend suite (createResultBackend) and the app
 * suite (a task sent through core to a worker and back).
 */
export function describeAdapter(adapter: TqAdapter, options: ConformanceOptions): void {
  const adapterOptions = options.adapterOptions ?? {};
  describe(`tq adapter "${adapter.name}"`, () => {
    describe('descriptor', () => {
      it('declares a name, its URL schemes and at least one factory', () => {
        expect(adapter.name).toMatch(/^[a-z0-9][a-z0-9-]*$/);
        expect(adapter.schemes.length).toBeGreaterThan(0);
        for (const scheme of adapter.schemes) expect(scheme).toMatch(/^[a-z][a-z0-9+.-]*$/);
        expect(typeof adapter.createBroker === 'function' || typeof adapter.createResultBackend === 'function').toBe(true);
      });

      it('serves the scheme of the URL under test', () => {
        expect(adapter.schemes).toContain(new URL(options.url).protocol.replace(/:$/, ''));
      });
    });

    const createBroker = adapter.createBroker?.bind(adapter);
    const createBackend = adapter.createResultBackend?.bind(adapter);
    if (createBroker) describeBroker((url) => createBroker(url, adapterOptions), options);
    if (createBackend) {
      describeResultBackend((url) => createBackend(url, adapterOptions), { ...options, url: options.resultBackendUrl ?? options.url });
    }
    describeApp(adapter, options);
    if (createBroker) describeDeadLetters(adapter, options);
  });
}
