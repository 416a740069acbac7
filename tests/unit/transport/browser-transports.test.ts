import { describe, expect, it } from 'vitest';
import { connectBroadcastChannel } from '../../../src/lib/adapters/transport/broadcast-channel.ts';
import {
  parseSignal,
  sealedSignaling,
  signalRoom,
  SIGNAL_MAX_AGE_MS,
  type SignalMessage
} from '../../../src/lib/adapters/transport/webrtc.ts';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import { newTeamKey, roomId } from '../../../src/lib/core/team/teamkey.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { generationBody } from '../helpers/ledger.ts';
import { hubFor, team, until } from '../sync/helpers.ts';

describe('BroadcastChannel transport (Node BroadcastChannel)', () => {
  it('delivers frames to the other members of the room only, never back to the sender, and not across rooms', async () => {
    const a = connectBroadcastChannel('room-aaaaaaaa');
    const b = connectBroadcastChannel('room-aaaaaaaa');
    const other = connectBroadcastChannel('room-bbbbbbbb');
    const got: Record<string, Uint8Array[]> = { a: [], b: [], other: [] };
    a.onFrame((f) => got.a.push(f));
    b.onFrame((f) => got.b.push(f));
    other.onFrame((f) => got.other.push(f));
    a.send(new Uint8Array([1, 2, 3]));
    await until(() => got.b.length === 1, 2000, 'frame at b');
    await new Promise((r) => setTimeout(r, 50));
    expect([...got.b[0]]).toEqual([1, 2, 3]);
    expect(got.a).toEqual([]);
    expect(got.other).toEqual([]);
    let closed = '';
    a.onClose((r) => (closed = r));
    a.close();
    expect(closed).toBe('closed');
    b.close();
    other.close();
  });

  it('ignores what is not a binary frame', async () => {
    const a = connectBroadcastChannel('room-cccccccc');
    const got: Uint8Array[] = [];
    a.onFrame((f) => got.push(f));
    const raw = new BroadcastChannel('provenance-ledger/room/room-cccccccc');
    raw.postMessage('text');
    raw.postMessage({ x: 1 });
    raw.postMessage(new Uint8Array(2 * 1024 * 1024));
    raw.postMessage(new Uint8Array([9]));
    await until(() => got.length === 1, 2000, 'the one valid frame');
    expect([...got[0]]).toEqual([9]);
    raw.close();
    a.close();
  });

  it('two SyncHubs converge over it', async () => {
    const {
      devices: [a, b],
      team: t,
      room
    } = await team(2);
    for (let i = 0; i < 5; i++) await a.ledger.append('generation', generationBody());
    for (let i = 0; i < 4; i++) await b.ledger.append('generation', generationBody());
    const total = a.ledger.size + b.ledger.size - 2;
    const reports: SyncReport[] = [];
    const ha = await hubFor(a, t, room, connectBroadcastChannel(room), reports);
    const hb = await hubFor(b, t, room, connectBroadcastChannel(room), reports);
    await until(() => a.ledger.size === total && b.ledger.size === total, 10_000, 'convergence');
    expect(a.ledger.heads()).toEqual(b.ledger.heads());
    expect(reports.filter((r) => r.type === 'rejected')).toEqual([]);
    await ha.close();
    await hb.close();
  });
});

describe('WebRTC signaling sealed with the team key', () => {
  const id = (c: string) => c.repeat(32);

  it('parseSignal refuses malformed messages', () => {
    expect(parseSignal({ type: 'announce', from: id('a') })).toEqual({ type: 'announce', from: id('a') });
    expect(parseSignal({ type: 'offer', from: id('a'), to: id('b'), sdp: 'v=0' })).toBeTruthy();
    expect(parseSignal({ type: 'offer', from: id('a'), sdp: 'v=0' })).toBeUndefined(); // undirected offer
    expect(parseSignal({ type: 'hack', from: id('a') })).toBeUndefined();
    expect(parseSignal({ type: 'announce', from: 'x' })).toBeUndefined();
    expect(parseSignal({ type: 'answer', from: id('a'), to: id('b'), sdp: 'x'.repeat(70_000) })).toBeUndefined();
    expect(parseSignal(null)).toBeUndefined();
  });

  it('members of one team read each other; the relay sees no SDP; another team key and stale messages are ignored', async () => {
    const t = newTeamKey(1);
    const room = memoryRoom();
    let clock = Date.now();
    const now = () => clock;
    const a = await sealedSignaling(room.join(), t, now);
    const b = await sealedSignaling(room.join(), t, now);
    const stranger = await sealedSignaling(room.join(), newTeamKey(1), now);
    const atB: SignalMessage[] = [];
    const atStranger: SignalMessage[] = [];
    b.onMessage((m) => atB.push(m));
    stranger.onMessage((m) => atStranger.push(m));
    const sdp = 'v=0\r\na=candidate:1 1 udp 2122260223 10.213.7.2 50000 typ host\r\n';
    a.send({ type: 'offer', from: id('a'), to: id('b'), sdp });
    await until(() => atB.length === 1, 2000, 'offer at b');
    expect(atB[0].sdp).toBe(sdp);
    const wire = room.frames.map((f) => Buffer.from(f).toString('latin1')).join('');
    expect(wire).not.toContain('candidate');
    expect(wire).not.toContain('10.213.7.2');
    // Replayed later than the allowed age: dropped.
    const old = room.frames[0];
    clock += SIGNAL_MAX_AGE_MS + 1000;
    room.join().send(old);
    a.send({ type: 'announce', from: id('a') });
    await until(() => atB.length === 2, 2000, 'announce at b');
    expect(atB[1].type).toBe('announce');
    expect(atStranger).toEqual([]);
    expect(await signalRoom(t)).not.toBe(await roomId(t));
  });
});
