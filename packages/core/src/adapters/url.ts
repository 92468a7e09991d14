import { ConfigError } from '../errors.js';

const secretParams = /^(password|pass|token|secret|sasl_password|nkey|jwt|creds|api_key|apikey)$/i;

/** Schemes whose user name alone is a secret: NATS reads nats://TOKEN@host as a token. */
const tokenSchemes = new Set(['nats:', 'tls:']);

/**
 * A URL safe to print: the password (and secret-looking query parameters, and a NATS token)
 * replaced by '***'. Use it wherever a broker or backend URL reaches a log, an error or the terminal.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    // Not parseable: hide anything between "://user:" and "@" by pattern.
    return String(url).replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
  }
  if (parsed.password) parsed.password = '***';
  // NATS reads a user name without a password as a token (nats://TOKEN@host): a secret too.
  else if (parsed.username && tokenSchemes.has(parsed.protocol)) parsed.username = '***';
  for (const key of [...parsed.searchParams.keys()]) {
    if (secretParams.test(key)) parsed.searchParams.set(key, '***');
  }
  return parsed.toString().replace('%2A%2A%2A', '***');
}

/** Redacts every URL with credentials found in a free text (error messages from clients). */
export function redactText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (match) => redactUrl(match));
}

export function parseUrl(url: string, path: string): URL {
  try {
    return new URL(url);
  } catch (cause) {
    throw new ConfigError([{ path, message: `not a valid URL: ${redactUrl(url)}` }], { cause });
  }
}

/** The URL scheme without its colon, lower-cased. */
export function schemeOf(url: URL): string {
  return url.protocol.replace(/:$/, '').toLowerCase();
}
