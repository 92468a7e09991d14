import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../src/index.js';

/** An echo server standing in for a broker. */
let echo: Server;
let proxy: FaultProxy;
const clients: Socket[] = [];

beforeEach(async () => {
  echo = createServer((socket) => {
    // The proxy resets connections on purpose.
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: (echo.address() as AddressInfo).port });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxy.port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
    socket.on('error', () => undefined);
    clients.push(socket);
  });
}

/** Sends `text` and resolves with what comes back within `ms` ('' when nothing does). */
function roundTrip(socket: Socket, text: string, ms = 1_000): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= text.length) finish();
    };
    const timer = setTimeout(() => finish(), ms);
    const finish = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(received);
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

describe('FaultProxy', () => {
  it('forwards bytes both ways', async () => {
    const socket = await open();
    expect(await roundTrip(socket, 'hello')).toBe('hello');
    expect(proxy.openConnections).toBe(1);
  });

  it('setDelay adds latency and keeps order', async () => {
    const socket = await open();
    proxy.setDelay(150);
    const started = Date.now();
    expect(await roundTrip(socket, 'abcdef', 2_000)).toBe('abcdef');
    // Delayed on the way in and on the way out.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("drop mode swallows traffic without closing the connection", async () => {
    const socket = await open();
    proxy.setMode('drop');
    expect(await roundTrip(socket, 'lost', 300)).toBe('');
    expect(socket.destroyed).toBe(false);
    proxy.setMode('forward');
    expect(await roundTrip(socket, 'back')).toBe('back');
  });

  it('silence makes the open connections half-open for good; new ones follow the mode', async () => {
    const socket = await open();
    proxy.silence();
    expect(await roundTrip(socket, 'lost', 300)).toBe('');
    expect(socket.destroyed).toBe(false);
    proxy.setMode('forward');
    expect(await roundTrip(socket, 'still lost', 300)).toBe('');
    expect(await roundTrip(await open(), 'fresh')).toBe('fresh');
  });

  it('cut resets every open connection', async () => {
    const socket = await open();
    const closed = new Promise<string>((resolve) => {
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      socket.once('close', () => resolve('close'));
    });
    proxy.cut();
    expect(['ECONNRESET', 'close']).toContain(await closed);
    expect(proxy.openConnections).toBe(0);
    // New connections still work after a cut.
    expect(await roundTrip(await open(), 'again')).toBe('again');
  });

  it('refuse mode resets new connections until forward again', async () => {
    proxy.setMode('refuse');
    const socket = await open().catch(() => undefined);
    if (socket) {
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', () => resolve('reset'));
        socket.once('close', () => resolve('reset'));
        socket.write('x');
      });
      expect(outcome).toBe('reset');
    }
    proxy.setMode('forward');
    expect(await roundTrip(await open(), 'served')).toBe('served');
    expect(proxy.acceptedConnections).toBe(2);
  });
});
