import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeAdapter, type ConformanceOptions } from '@tq/conformance';
import type { TqAdapter } from '@tq/core/adapter';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker, type BrokerEndpoint, type BrokerName } from './brokers.js';

export interface ConformanceRun {
  readonly broker: BrokerName;
  /** The adapter package, e.g. '@tq/redis'. */
  readonly packageName: string;
  /** `() => import('@tq/redis')`: a literal specifier so the bundler resolves it. */
  load(): Promise<{ default?: unknown }>;
  /** Kit options for this endpoint (URL parameters, cleanup hooks…). */
  configure(endpoint: BrokerEndpoint & { url: string }): ConformanceOptions | Promise<ConformanceOptions>;
  /**
   * Registers the suites instead of describeAdapter (to compose the kit's groups, e.g. leave
   * one out on a test double with the reason). Call it inside describe(`tq adapter "<name>"`).
   */
  register?(adapter: TqAdapter, options: ConformanceOptions, endpoint: BrokerEndpoint & { url: string }): void;
  /** After every suite of the file: remove what the run created on the broker. */
  cleanup?(endpoint: BrokerEndpoint & { url: string }): Promise<void>;
}

function isAdapter(value: unknown): value is TqAdapter {
  const candidate = value as Partial<TqAdapter> | undefined;
  return typeof candidate?.name === 'string' && Array.isArray(candidate.schemes);
}

/**
 * Runs the conformance kit for one broker: resolves the endpoint, loads the adapter package,
 * and registers a "harness" suite saying which endpoint was used (or why none), then
 * describeAdapter. A missing broker fails under CI=true and is skipped otherwise; an adapter
 * package without src/index.ts yet is skipped, loudly.
 */
export async function runConformance(run: ConformanceRun): Promise<void> {
  const { broker, packageName } = run;
  const entry = fileURLToPath(new URL(`../../packages/${broker}/src/index.ts`, import.meta.url));

  if (!existsSync(entry)) {
    console.warn(`[integration] ${broker}: SKIPPED — ${packageName} has no src/index.ts yet`);
    describe('harness', () => {
      it.skip(`adapter ${packageName}: not available yet (packages/${broker}/src/index.ts is missing)`, () => undefined);
    });
    return;
  }

  const endpoint = await resolveBroker(broker);
  afterAll(() => endpoint.stop(), 60_000);
  console.info(`[integration] ${broker}: ${endpoint.detail}`);

  let adapter: TqAdapter | undefined;
  let loadError: unknown;
  try {
    const loaded = (await run.load()).default;
    if (isAdapter(loaded)) adapter = loaded;
    else loadError = new Error(`${packageName} has no default export that is a TqAdapter ({ name, schemes, … })`);
  } catch (error) {
    loadError = error;
  }

  describe('harness', () => {
    if (endpoint.url) it(`endpoint: ${endpoint.detail}`, () => expect(endpoint.url).toBeTruthy());
    else if (brokersRequired()) it(`endpoint: ${endpoint.detail}`, () => expect.fail(`${broker} broker is required under CI=true: ${endpoint.detail}`));
    else it.skip(`endpoint: ${endpoint.detail} (set ${broker === 'kafka' ? 'TQ_TEST_KAFKA_BROKERS' : `TQ_TEST_${broker.toUpperCase()}_URL`} or start it)`, () => undefined);
    it(`adapter ${packageName} loads and default-exports a TqAdapter`, () => {
      if (loadError) throw loadError;
      expect(adapter?.name).toBeTruthy();
    });
  });

  if (!endpoint.url || !adapter) return;
  const ready = endpoint as BrokerEndpoint & { url: string };
  const configured = await run.configure(ready);
  const options = { ...configured, adapterOptions: { ...endpoint.adapterOptions, ...configured.adapterOptions } };
  if (run.register) {
    const register = run.register;
    const loaded = adapter;
    describe(`tq adapter "${adapter.name}"`, () => register(loaded, options, ready));
  } else {
    describeAdapter(adapter, options);
  }
  if (run.cleanup) afterAll(() => run.cleanup!(ready), 60_000);
}
