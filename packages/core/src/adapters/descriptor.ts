import type { Logger } from '../logger.js';
import type { ResultBackend } from '../backend/result-backend.js';
import type { Broker } from '../broker/broker.js';

/**
 * Adapter-specific options from config (`brokerOptions` / `resultBackendOptions`), e.g. TLS
 * material. Core adds `logger` (the app's Logger, redacting) for adapters whose client logs.
 */
export type AdapterOptions = Readonly<Record<string, unknown>>;

/** The app's logger core put in `options`, when there is one. */
export function loggerOf(options: AdapterOptions): Logger | undefined {
  const logger = options['logger'] as Partial<Logger> | undefined;
  return logger && typeof logger.warn === 'function' && typeof logger.error === 'function' ? (logger as Logger) : undefined;
}

/**
 * What an adapter package default-exports: its name, the URL schemes it serves, and
 * factories. Core picks it by URL scheme; users may also pass it in `adapters: [...]`.
 */
export interface TqAdapter {
  /** Short name, e.g. 'redis'. */
  readonly name: string;
  /** URL schemes without '://', e.g. ['redis', 'rediss']. */
  readonly schemes: readonly string[];
  /**
   * Parse a URL the WHATWG parser rejects, e.g. several hosts ('kafka://a:9092,b:9093').
   * Default: `new URL(raw)`.
   */
  parseUrl?(raw: string): URL;
  createBroker?(url: URL, options: AdapterOptions): Broker;
  createResultBackend?(url: URL, options: AdapterOptions): ResultBackend;
}
