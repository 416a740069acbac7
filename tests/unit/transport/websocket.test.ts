/**
 * The relay transport's failures are the user's to read: an address that is not one, a relay that is not there,
 * a relay that refuses the room: each a LedgerError with a stable code (the CLI prints `error [CODE]: …`, exit 2),
 * never an internal error.
 */
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { randomRoomKey } from '../../../src/lib/core/sync/room.ts';

const ROOM = await randomRoomKey();

describe('relay transport: connection failures', () => {
  it('an address that is not a WebSocket URL is BAD_INPUT', async () => {
    await expect(connectRelay('not a relay', ROOM)).rejects.toMatchObject({
      name: 'LedgerError',
      code: 'BAD_INPUT',
      message: expect.stringMatching(/^not a relay address/)
    });
  });

  it('a port where nothing answers is REMOTE_UNREACHABLE', async () => {
    // A port that was free a moment ago: bound, then closed.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(connectRelay(`ws://127.0.0.1:${port}`, ROOM, { timeoutMs: 5_000 })).rejects.toMatchObject({
      name: 'LedgerError',
      code: 'REMOTE_UNREACHABLE'
    });
  });

  it('a server that refuses the upgrade is REMOTE_UNREACHABLE', async () => {
    const srv = createServer((_req, res) => res.writeHead(403).end('no'));
    srv.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as AddressInfo).port;
      await expect(connectRelay(`ws://127.0.0.1:${port}`, ROOM, { timeoutMs: 5_000 })).rejects.toMatchObject({
        name: 'LedgerError',
        code: 'REMOTE_UNREACHABLE'
      });
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
