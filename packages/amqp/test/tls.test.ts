/**
 * amqps:// end to end: a TLS terminator the test owns (self-signed certificate made with
 * openssl) in front of the local RabbitMQ. Certificates are checked: without the CA the
 * connection is refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { encodeTaskMessage, isTqError, jsonSerializer, type Delivery } from '@tq/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackResources, urlVia } from './support/brokers.js';

describe('amqps:// (TLS)', () => {
  const t = trackResources();
  let dir: string;
  let cert: string;
  let key: string;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tq-amqp-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const upstream = urlVia(undefined);
    server = createServer({ cert, key }, (socket) => {
      const plain = tcpConnect(Number(upstream.port || 5672), upstream.hostname);
      socket.pipe(plain).pipe(socket);
      socket.on('error', () => plain.destroy());
      plain.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  function tlsUrl(): URL {
    const url = urlVia(port);
    url.protocol = 'amqps:';
    url.hostname = 'localhost';
    return url;
  }

  it('connects with the CA from adapter options, and messages round-trip', async () => {
    const queue = t.queue('tls');
    const broker = t.broker(tlsUrl(), { tls: { ca: cert } });
    await broker.connect();
    await broker.publish(queue, encodeTaskMessage({ id: 'tls-1', task: 'tq.add', args: [1, 2], kwargs: {} }, jsonSerializer));
    const controller = new AbortController();
    let received: Delivery | undefined;
    for await (const delivery of broker.consume(queue, { prefetch: 1, signal: controller.signal })) {
      received = delivery;
      break;
    }
    expect(received?.message.headers.id).toBe('tls-1');
    await received?.ack();
  });

  it('refuses a server certificate it cannot verify (no CA given)', async () => {
    const broker = t.broker(tlsUrl());
    const error = await broker.connect().catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_AUTH_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/self.signed|certificate/i);
  });

  it('refuses a certificate for another host name (servername checked)', async () => {
    const broker = t.broker(tlsUrl(), { tls: { ca: cert, servername: 'rabbit.example' } });
    const error = await broker.connect().catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_AUTH_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/altnames|Hostname|rabbit\.example/i);
  });
});
