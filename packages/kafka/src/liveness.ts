import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/** kafkajs's own socket factory (src/network/socketFactory.js), with a shorter keep-alive. */
const plainSocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(typeof ssl === 'object' ? ssl : {}) }, onConnect)
    : netConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, 10_000);
  return socket;
};

/** JoinGroup (11) and SyncGroup (14) legitimately wait at the broker for the other members. */
const groupApiKeys = new Set([11, 14]);
/** kafkajs's default rebalanceTimeout: how long a JoinGroup may wait for the other members. */
const rebalanceTimeoutMs = 60_000;

function apiKeyOf(chunk: unknown): number | undefined {
  // A request: int32 size, int16 api_key, int16 api_version, int32 correlation id, …
  return Buffer.isBuffer(chunk) && chunk.length >= 6 ? chunk.readInt16BE(4) : undefined;
}

/**
 * Liveness for kafkajs connections. kafkajs times a request out (requestTimeout) but keeps the
 * connection: on a half-open connection or a frozen broker every later request times out too,
 * long after the broker is back. This wraps the socket factory: a connection that was written
 * to and has received nothing since, for `timeoutMs`, is destroyed; kafkajs then fails what
 * was in flight and reconnects on the next request. Every Kafka request the adapter makes
 * gets a response (produce uses acks=all), and fetches wait at most maxWaitTimeMs at the
 * broker, so a healthy connection never stays silent that long after a write; a JoinGroup or
 * SyncGroup may wait for the other members up to the rebalance timeout, so it gets that on top.
 */
export function livenessSocketFactory(base: ISocketFactory | undefined, timeoutMs: number): ISocketFactory {
  const create = base ?? plainSocketFactory;
  return (args) => {
    const socket = create(args);
    // When, at the latest, the broker must have sent something: set by a write, cleared by a read.
    let expectBy: number | undefined;
    const write = socket.write.bind(socket) as (...rest: unknown[]) => boolean;
    socket.write = ((...rest: unknown[]) => {
      const apiKey = apiKeyOf(rest[0]);
      const allowance = apiKey !== undefined && groupApiKeys.has(apiKey) ? rebalanceTimeoutMs + timeoutMs : timeoutMs;
      const due = Date.now() + allowance;
      expectBy = expectBy === undefined ? due : Math.min(expectBy, due);
      return write(...rest);
    }) as typeof socket.write;
    socket.on('data', () => (expectBy = undefined));
    const check = setInterval(
      () => {
        if (expectBy !== undefined && Date.now() >= expectBy && !socket.destroyed) {
          socket.destroy(new Error(`kafka connection to ${args.host}:${args.port} sent nothing for ${timeoutMs} ms after a request (requestTimeoutMs): presumed dead`));
        }
      },
      Math.max(50, Math.floor(timeoutMs / 4)),
    );
    check.unref();
    socket.once('close', () => clearInterval(check));
    return socket;
  };
}
