/**
 * Remote control over the broadcast bus (the broker's broadcast channel, else the result backend's): revoke, ping
 * and inspect reach every worker at once; workers answer on the caller's reply channel.
 */
export const controlChannel = 'tq.control';

export type ControlMethod = 'revoke' | 'ping' | 'inspect';
export type InspectWhat = 'active' | 'reserved' | 'scheduled' | 'registered' | 'stats';

export interface ControlRequest {
  readonly id: string;
  readonly method: ControlMethod;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Worker hostnames to address; absent = all. */
  readonly destination?: readonly string[];
  /** Channel the caller listens on for replies. */
  readonly replyTo?: string;
}

export interface ControlReply {
  readonly id: string;
  readonly hostname: string;
  readonly result: unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeControl(value: ControlRequest | ControlReply): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses a control payload; null for anything malformed (never throws into the worker). */
export function decodeControl<T extends ControlRequest | ControlReply>(bytes: Uint8Array): T | null {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as T;
    return value && typeof value === 'object' && typeof value.id === 'string' ? value : null;
  } catch {
    return null;
  }
}
