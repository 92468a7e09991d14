import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the tests own, between an AMQP client and RabbitMQ: it records what the server
 * sends, can hold the server's bytes back (to see what a client does before an answer), and
 * can kill every connection at once without a close handshake.
 */
export class TcpTap {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream: Socket }>();
  readonly #held: { client: Socket; chunk: Buffer }[] = [];
  #fromServer: Buffer[] = [];
  #paused = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }): Promise<TcpTap> {
    const holder: { tap?: TcpTap } = {};
    const server = createServer((client) => holder.tap!.#accept(client, target));
    const tap = new TcpTap(server);
    holder.tap = tap;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return tap;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('tap not listening');
    return address.port;
  }

  /** Everything the server sent so far, on every connection, in order. */
  get serverBytes(): Buffer {
    return Buffer.concat(this.#fromServer);
  }

  #accept(client: Socket, target: { host: string; port: number }): void {
    const upstream = connect(target.port, target.host);
    const pair = { client, upstream };
    this.#pairs.add(pair);
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      this.#fromServer.push(chunk);
      if (this.#paused) this.#held.push({ client, chunk });
      else client.write(chunk);
    });
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  /** Hold back the server's bytes until resume(). */
  pauseServer(): void {
    this.#paused = true;
  }

  resumeServer(): void {
    this.#paused = false;
    for (const { client, chunk } of this.#held.splice(0)) client.write(chunk);
  }

  /** Kill every connection abruptly (RST, no AMQP close), as a crashed network would. */
  cut(): void {
    for (const { client, upstream } of this.#pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  get connections(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** AMQP frames in a server byte stream: [type u8][channel u16][size u32][payload][0xCE]. */
export function* amqpFrames(bytes: Buffer): Generator<{ type: number; channel: number; payload: Buffer }> {
  let offset = 0;
  while (offset + 7 <= bytes.length) {
    const type = bytes.readUInt8(offset);
    const channel = bytes.readUInt16BE(offset + 1);
    const size = bytes.readUInt32BE(offset + 3);
    if (offset + 8 + size > bytes.length) return;
    yield { type, channel, payload: bytes.subarray(offset + 7, offset + 7 + size) };
    offset += 8 + size;
  }
}

/** The type tags of a content header's headers table, in the captures' notation ("S", "A[V,V]"). */
export function headerFieldTypes(contentHeader: Buffer): Record<string, string> {
  // class(2) weight(2) bodySize(8) flags(2), then content-type and content-encoding shortstrs.
  let offset = 12;
  const flags = contentHeader.readUInt16BE(offset);
  offset += 2;
  for (const bit of [15, 14]) {
    if (flags & (1 << bit)) offset += 1 + contentHeader.readUInt8(offset);
  }
  const types: Record<string, string> = {};
  if (!(flags & (1 << 13))) return types;
  const end = offset + 4 + contentHeader.readUInt32BE(offset);
  offset += 4;
  const sizes: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, T: 8, f: 4, d: 8, D: 5, V: 0 };
  const value = (): string => {
    const tag = String.fromCharCode(contentHeader.readUInt8(offset++));
    if (tag === 'S' || tag === 'x') {
      offset += 4 + contentHeader.readUInt32BE(offset);
      return tag;
    }
    if (tag === 'A') {
      const stop = offset + 4 + contentHeader.readUInt32BE(offset);
      offset += 4;
      const items: string[] = [];
      while (offset < stop) items.push(value());
      return `A[${items.join(',')}]`;
    }
    if (tag === 'F') {
      offset += 4 + contentHeader.readUInt32BE(offset);
      return 'F';
    }
    const size = sizes[tag];
    if (size === undefined) throw new Error(`unknown field type ${tag}`);
    offset += size;
    return tag;
  };
  while (offset < end) {
    const keyLength = contentHeader.readUInt8(offset++);
    const key = contentHeader.toString('utf8', offset, offset + keyLength);
    offset += keyLength;
    types[key] = value();
  }
  return types;
}
