import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, TqError } from '../errors.js';
import type { TqAdapter } from './descriptor.js';

/**
 * An adapter given by the user: a descriptor (in code) or the name of a package that
 * default-exports one (in tq.config.json's "adapters", $TQ_ADAPTERS, or `tq … --adapter PKG`).
 */
export type AdapterEntry = TqAdapter | string;

export type PackageLoader = (packageName: string) => Promise<unknown>;

/**
 * Imports a package as the user's project sees it: resolved from the current directory first
 * (where the project's node_modules are), then from core's own location.
 */
export const loadFromProject: PackageLoader = async (packageName) => {
  let specifier = packageName;
  try {
    specifier = pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve(packageName)).href;
  } catch {
    // Not resolvable from the project (or ESM-only without a "default" export condition): try core's resolution.
  }
  return import(specifier);
};

export function isTqAdapter(value: unknown): value is TqAdapter {
  return value !== null && typeof value === 'object' && typeof (value as TqAdapter).name === 'string' && Array.isArray((value as TqAdapter).schemes);
}

const cache = new Map<string, Promise<TqAdapter>>();

/** Resolves every entry to a descriptor, importing named packages (once per process). */
export async function loadAdapters(entries: readonly AdapterEntry[], load: PackageLoader = loadFromProject): Promise<TqAdapter[]> {
  return Promise.all(entries.map((entry) => (typeof entry === 'string' ? loadNamed(entry.trim(), load) : Promise.resolve(entry))));
}

function loadNamed(packageName: string, load: PackageLoader): Promise<TqAdapter> {
  const useCache = load === loadFromProject;
  const cached = useCache ? cache.get(packageName) : undefined;
  if (cached) return cached;
  const loading = (async () => {
    let loaded: unknown;
    try {
      loaded = await load(packageName);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((cause as Error).message).includes(packageName)) {
        throw new TqError('TQ_ADAPTER_NOT_INSTALLED', `adapter package "${packageName}" is not installed: run \`npm install ${packageName}\``, { cause });
      }
      throw new ConfigError([{ path: 'adapters', message: `loading adapter package "${packageName}" failed: ${(cause as Error).message}` }], { cause });
    }
    const adapter = (loaded as { default?: unknown }).default ?? loaded;
    if (!isTqAdapter(adapter)) {
      throw new ConfigError([{ path: 'adapters', message: `"${packageName}" does not default-export a tq adapter descriptor ({ name, schemes, createBroker?, createResultBackend? })` }]);
    }
    return adapter;
  })();
  if (useCache) {
    cache.set(packageName, loading);
    loading.catch(() => cache.delete(packageName));
  }
  return loading;
}

/** $TQ_ADAPTERS: package names separated by commas or spaces. */
export function adaptersFromEnv(env: NodeJS.ProcessEnv): string[] {
  return (env['TQ_ADAPTERS'] ?? '').split(/[,\s]+/).filter(Boolean);
}
