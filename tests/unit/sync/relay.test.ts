import { describe, expect, it } from 'vitest';
import { startRelay } from '../../../src/relay/server.ts';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { holdPeers } from '../../bench/sync.ts';
import { randomRoomKey } from '../../../src/lib/core/sync/room.ts';

describe('relay', () => {
  it('holds 50 concurrent peers in 10 rooms with no frame lost, and rooms stay apart', async () => {
    const r = await holdPeers(50, 10, 20);
    expect(r.peers).toBe(50);
    expect(r.lost).toBe(0);
    expect(r.crossRoom).toBe(0);
  });

  it('closes a connection that sends text, an oversized frame, or floods', async () => {
    const relay = await startRelay({ port: 0, maxFrame: 1024, frameRate: 10, frameBurst: 20 });
    const closed = (t: Awaited<ReturnType<typeof connectRelay>>) => new Promise<string>((res) => t.onClose(res));
    const a = await connectRelay(relay.url, await randomRoomKey());
    const ca = closed(a);
    a.send(new Uint8Array(2048));
    expect(await ca).toMatch(/1009/);
    const b = await connectRelay(relay.url, await randomRoomKey());
    const cb = closed(b);
    for (let i = 0; i < 100; i++) b.send(new Uint8Array(8));
    expect(await cb).toMatch(/1008/);
    await expect(connectRelay(relay.url, { id: 'bad room!', prove: async () => new Uint8Array(64) })).rejects.toThrow();
    await relay.close();
  });
});
