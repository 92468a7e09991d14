import { isIP } from 'node:net';
import { ConfigError } from '@tq/core';

export interface AuthOptions {
  /** Bearer token for the API (env TQ_DASHBOARD_TOKEN). */
  readonly token?: string;
  /** Basic-auth user and password for the whole site (env TQ_DASHBOARD_USER / TQ_DASHBOARD_PASSWORD). */
  readonly user?: string;
  readonly password?: string;
}

export type ResolvedAuth = { readonly token?: string; readonly basic?: { readonly username: string; readonly password: string } };

/** True for addresses only this machine can reach: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (bare === '::1') return true;
  return bare.startsWith('::ffff:127.');
}

/**
 * Options, then the environment. Without any auth the dashboard may only listen on loopback:
 * it can revoke, retry and purge, so an open port would hand that to the network.
 */
export function resolveAuth(options: AuthOptions, host: string, env: NodeJS.ProcessEnv = process.env): ResolvedAuth {
  // An empty variable counts as unset, as shells leave them (TQ_DASHBOARD_TOKEN= …).
  const fromEnv = (name: string) => env[name] || undefined;
  const token = options.token ?? fromEnv('TQ_DASHBOARD_TOKEN');
  const user = options.user ?? fromEnv('TQ_DASHBOARD_USER');
  const password = options.password ?? fromEnv('TQ_DASHBOARD_PASSWORD');
  const issues: { path: string; message: string }[] = [];
  if ((user === undefined) !== (password === undefined)) issues.push({ path: 'dashboard.user', message: 'basic auth needs both --user and --password (or TQ_DASHBOARD_USER and TQ_DASHBOARD_PASSWORD)' });
  if (token === '') issues.push({ path: 'dashboard.token', message: 'the token is empty' });
  const basic = user !== undefined && password !== undefined ? { username: user, password } : undefined;
  if (!token && !basic && !isLoopback(host)) {
    issues.push({
      path: 'dashboard.host',
      message: `refusing to serve the dashboard on ${host} without authentication: anyone who reaches it could revoke, retry and purge. Pass --token TOKEN (or TQ_DASHBOARD_TOKEN), or --user NAME --password SECRET, or listen on 127.0.0.1`,
    });
  }
  if (issues.length) throw new ConfigError(issues);
  return { ...(token ? { token } : {}), ...(basic ? { basic } : {}) };
}
