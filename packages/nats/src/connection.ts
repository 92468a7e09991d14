import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import type { AdapterOptions } from '@tq/core/adapter';
import { toTqError } from './errors.js';
import type { NatsConnectionSettings } from './options.js';

/**
 * Opens a NATS connection from parsed settings. `adapterOptions.connection` (nats.js
 * ConnectionOptions) is merged last, for anything the URL cannot say.
 */
export async function openConnection(settings: NatsConnectionSettings, adapterOptions: AdapterOptions, backend: boolean): Promise<NatsConnection> {
  const { auth } = settings;
  const options: ConnectionOptions = {
    servers: [...settings.servers],
    name: settings.name,
    // Keep reconnecting forever: a cluster node going away must not end the worker.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Liveness: a silent server (half-open connection) is declared stale after maxPingOut
    // unanswered PINGs, i.e. within (maxPingOut + 1) × pingInterval, and the client reconnects.
    pingInterval: settings.pingIntervalMs,
    maxPingOut: settings.maxPingOut,
    timeout: settings.connectTimeoutMs,
    // nats.js captures a stack trace for every request (each publish and ack): ~15% of the CPU
    // per message. tq's errors say what was being done instead.
    noAsyncTraces: true,
    ...(auth.user !== undefined ? { user: auth.user, pass: auth.pass } : {}),
    ...(auth.token !== undefined ? { token: auth.token } : {}),
  };
  try {
    if (auth.nkeySeed !== undefined) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(auth.nkeySeed));
    if (auth.credsFile !== undefined) options.authenticator = credsAuthenticator(await readFile(auth.credsFile));
    if (settings.tls) options.tls = { ...settings.tls };
    const extra = (adapterOptions.connection ?? {}) as Partial<ConnectionOptions>;
    return await connect({ ...options, ...extra });
  } catch (error) {
    throw toTqError(error, `connecting to ${settings.redacted}`, { backend, connecting: true });
  }
}
