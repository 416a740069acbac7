/**
 * The relay under abuse (every test stops by itself: bounded counts, and every wait has a deadline).
 *
 * - A slow reader (a socket that stops reading) while a member floods the room: it is cut off with 1013 and a
 *   one-line reason, its queued frames dropped, and the relay process's peak RSS stays under a bound measured
 *   from its idle RSS; the member that reads gets every frame.
 * - Room admission: a connection that knows only the room id (no proof, a wrong proof, frames before the
 *   proof) is refused with its reason; strangers flooding a room's id do not fill the room, and its members
 *   still sync; when the relay is full, a connection still to prove its room key makes way for a member.
 * - One address opening 1,000 rooms of its own is refused by the per-address limits while a member from
 *   another address (127.0.0.2: every 127/8 address is loopback) connects and syncs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import { startRelay, type Relay } from '../../../src/relay/server.ts';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { admission, randomRoomKey, type RoomKey } from '../../../src/lib/core/sync/room.ts';
import { fromBase64url } from '../../../src/lib/core/bytes.ts';
import type { Transport } from '../../../src/lib/core/sync/transport.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { roomKey } from '../../../src/lib/core/team/teamkey.ts';
import { generationBody } from '../helpers/ledger.ts';
import { hubFor, team, until } from '../sync/helpers.ts';
import { ROOT } from '../cli/helpers.ts';

const MiB = 1024 * 1024;

interface Raw {
  ws: WebSocket;
  /** Resolves true once admitted, false if closed before. */
  admitted: Promise<boolean>;
  closed: Promise<{ code: number; reason: string }>;
  /** How it ended, once it has. */
  end?: { code: number; reason: string };
  frames: () => number;
}

/**
 * A connection made with the `ws` client, so that a test can choose its source address, pause its reading, and
 * answer the challenge with `key` (the room's, another room's), with nothing, or with a frame instead.
 */
function raw(
  url: string,
  roomId: string,
  o: { key?: RoomKey; localAddress?: string; answer?: 'proof' | 'none' | 'frame' } = {}
): Raw {
  const ws = new WebSocket(`${url}/room/${roomId}`, { localAddress: o.localAddress });
  let frames = 0;
  let admit: (v: boolean) => void = () => {};
  const admitted = new Promise<boolean>((r) => (admit = r));
  const self: Raw = { ws, admitted, closed: undefined!, frames: () => frames };
  self.closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on('close', (code, reason) => {
      admit(false);
      self.end = { code, reason: reason.toString() };
      r(self.end);
    })
  );
  ws.on('error', () => undefined);
  ws.on('message', async (data, isBinary) => {
    if (isBinary) return void frames++;
    const m = JSON.parse(data.toString());
    if (m.admitted) return admit(true);
    if (typeof m.challenge !== 'string') return;
    const answer = o.answer ?? 'proof';
    if (answer === 'frame') ws.send(Buffer.alloc(64), { binary: true });
    else if (answer === 'proof' && o.key) ws.send(admission.proof(await o.key.prove(fromBase64url(m.challenge))));
  });
  return self;
}

/** Two members of one team, each with a hub on its own relay connection; `sync()` checks an event goes across. */
async function twoMembers(relayUrl: string) {
  const { devices, team: t, room } = await team(2);
  const key = await roomKey(t);
  const reports: SyncReport[] = [];
  const transports: Transport[] = [await connectRelay(relayUrl, key), await connectRelay(relayUrl, key)];
  const [ha, hb] = [
    await hubFor(devices[0], t, room, transports[0], reports),
    await hubFor(devices[1], t, room, transports[1])
  ];
  await until(() => ha.peers().length === 1 && hb.peers().length === 1, 15_000, 'the members connected');
  return {
    key,
    async sync(project: string) {
      const e = await devices[1].ledger.append('generation', generationBody({ project }));
      hb.poke();
      await until(() => devices[0].ledger.get(e.id) !== undefined, 15_000, `"${project}" arrived`);
    },
    async close() {
      await ha.close();
      await hb.close();
    }
  };
}

/** The relay as `npm run relay` runs it, in a process of its own (its memory is measured from /proc). */
async function relayProcess(): Promise<{
  url: string;
  child: ChildProcess;
  lines: string[];
  rss: (field: 'VmRSS' | 'VmHWM') => number;
}> {
  const child = spawn(process.execPath, [path.join(ROOT, 'src/relay/server.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit']
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  await until(() => lines.some((l) => /relay listening on/.test(l)), 20_000, 'the relay process');
  const url = /relay listening on (ws:\/\/\S+)/.exec(lines.find((l) => /relay listening on/.test(l))!)![1];
  const rss = (field: 'VmRSS' | 'VmHWM') =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
  return { url, child, lines, rss };
}

const relays: Relay[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const r of relays.splice(0)) await r.close();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
async function relayWith(o: Parameters<typeof startRelay>[0] = {}): Promise<Relay> {
  const r = await startRelay({ port: 0, ...o });
  relays.push(r);
  return r;
}

describe('a slow reader', () => {
  it('is cut off with 1013 and its reason while a member floods the room; the relay stays under its memory bound; the reader that reads gets every frame', async () => {
    const relay = await relayProcess();
    children.push(relay.child);
    const room = await randomRoomKey();
    const flooder = await connectRelay(relay.url, room);
    const reader = await connectRelay(relay.url, room);
    let got = 0;
    reader.onFrame(() => got++);
    const slow = raw(relay.url, room.id, { key: room });
    expect(await slow.admitted).toBe(true);
    // Warm: a few frames through every path, then the idle figure.
    for (let i = 0; i < 8; i++) flooder.send(new Uint8Array(64 * 1024));
    await until(() => got === 8 && slow.frames() === 8, 10_000, 'warm-up frames');
    slow.ws.pause(); // from now on it reads nothing
    await new Promise((r) => setTimeout(r, 200));
    const idle = relay.rss('VmRSS');

    // The flood: 192 MiB in frames of 256 KiB, paced under the relay's byte rate (64 MiB burst, 32 MiB/s).
    const FRAME = 256 * 1024;
    const COUNT = 768;
    const frame = new Uint8Array(FRAME).fill(7);
    const t0 = Date.now();
    const flood = (async () => {
      for (let i = 0; i < COUNT; i++) {
        while (i * FRAME > 48 * MiB + ((Date.now() - t0) / 1000) * 24 * MiB)
          await new Promise((r) => setTimeout(r, 20));
        flooder.send(frame);
      }
    })();
    // Once the relay has cut it off, the reader that stopped reading reads again: what the relay had handed to its
    // socket, then the close with its reason.
    await until(() => relay.lines.some((l) => /too slow/.test(l)), 60_000, 'the relay cut the slow reader off');
    slow.ws.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/^too slow: over 16 MiB waiting to be read$/);
    await flood;
    await until(() => got === 8 + COUNT, 60_000, 'every frame at the reader that reads');
    const peak = relay.rss('VmHWM');
    // Its queued frames were dropped: it got far fewer than were sent.
    expect(slow.frames()).toBeLessThan(8 + COUNT / 4);

    // The bound: twice the idle RSS, plus the per-connection cap (16 MiB) for each of the three connections. Had
    // the relay kept the slow reader's frames (192 MiB), its RSS would have gone over it.
    const bound = 2 * idle + 3 * 16 * MiB;
    expect(idle + COUNT * FRAME).toBeGreaterThan(bound);
    console.info(
      `relay RSS: idle ${(idle / MiB).toFixed(1)} MiB, peak during the flood ${(peak / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`
    );
    expect(peak).toBeLessThan(bound);

    // The others go on.
    flooder.send(new Uint8Array([1, 2, 3]));
    await until(() => got === 8 + COUNT + 1, 10_000, 'a frame after the flood');
    flooder.close();
    reader.close();
  }, 120_000);
});

describe('room admission', () => {
  it("refuses a connection that knows only the room id: no proof, another room's proof, a frame before the proof", async () => {
    const relay = await relayWith({ admissionTimeoutMs: 500 });
    const room = await randomRoomKey();
    const silent = raw(relay.url, room.id, { answer: 'none' });
    const wrong = raw(relay.url, room.id, { key: await randomRoomKey() });
    const early = raw(relay.url, room.id, { answer: 'frame' });
    expect(await silent.closed).toEqual({ code: 1008, reason: 'no admission proof in time' });
    expect(await wrong.closed).toEqual({ code: 1008, reason: 'admission refused: not a proof of this room key' });
    expect(await early.closed).toEqual({
      code: 1008,
      reason: 'admission first: answer the challenge with the room key'
    });
    expect(relay.stats()).toMatchObject({ rooms: 0, peers: 0, pending: 0 });
    // An id that is not a room key's.
    const bad = new WebSocket(`${relay.url}/room/abcdefgh12345678`);
    bad.on('error', () => undefined);
    const c = await new Promise<{ code: number; reason: string }>((r) =>
      bad.on('close', (code, reason) => r({ code, reason: reason.toString() }))
    );
    expect(c.code).toBe(1008);
    expect(c.reason).toMatch(/^expected \/room\/<id>/);
    // Through the app's transport: the relay's reason, as REMOTE_REJECTED.
    await expect(connectRelay(relay.url, { id: room.id, prove: async () => new Uint8Array(64) })).rejects.toMatchObject(
      {
        code: 'REMOTE_REJECTED',
        message: expect.stringMatching(
          /refused the connection \(1008 admission refused: not a proof of this room key\)/
        ),
        detail: { closeCode: 1008, reason: 'admission refused: not a proof of this room key' }
      }
    );
  });

  it('strangers flooding a room id (held open without a proof, wrong proofs) do not fill it: its members still sync', async () => {
    // A room of 4: strangers, were they counted, would fill it many times over.
    const relay = await relayWith({ maxPeersPerRoom: 4, admissionTimeoutMs: 120_000 });
    const members = await twoMembers(relay.url);
    const strangers: Raw[] = [];
    for (let i = 0; i < 100; i++)
      strangers.push(raw(relay.url, members.key.id, { localAddress: '127.0.0.2', answer: 'none' }));
    for (let i = 0; i < 64; i++)
      strangers.push(raw(relay.url, members.key.id, { localAddress: '127.0.0.3', key: await randomRoomKey() }));
    // Silent ones: 64 wait (the per-address limit of connections awaiting admission), the others are refused at
    // once; every wrong proof is refused.
    await until(
      () => strangers.filter((s) => s.end).length === 36 + 64 && relay.stats().pending === 64,
      20_000,
      'the strangers refused'
    );
    const silentRefused = strangers.slice(0, 100).filter((s) => s.end);
    expect(silentRefused).toHaveLength(36);
    for (const s of silentRefused)
      expect(s.end).toEqual({ code: 1013, reason: 'too many connections awaiting admission from this address' });
    for (const s of strangers.slice(100))
      expect(s.end).toEqual({ code: 1008, reason: 'admission refused: not a proof of this room key' });
    expect(relay.stats()).toMatchObject({ rooms: 1, peers: 2, pending: 64 });
    // The room has room for members: two more join, and the members sync.
    const more = await Promise.all([connectRelay(relay.url, members.key), connectRelay(relay.url, members.key)]);
    expect(relay.stats().peers).toBe(4);
    await members.sync('Despite the strangers');
    for (const t of more) t.close();
    for (const s of strangers) s.ws.terminate();
    await members.close();
  });

  it('when the relay is full, a connection still to prove its room key makes way for a member', async () => {
    const relay = await relayWith({ maxConnections: 10 });
    const waiting: Raw[] = [];
    for (let i = 0; i < 10; i++)
      waiting.push(raw(relay.url, (await randomRoomKey()).id, { localAddress: '127.0.0.2', answer: 'none' }));
    await until(() => relay.stats().pending === 10, 10_000, 'the relay full of connections awaiting admission');
    const members = await twoMembers(relay.url);
    const first = await waiting[0].closed;
    expect(first).toEqual({ code: 1013, reason: 'the relay is full: admission took too long' });
    expect(relay.stats()).toMatchObject({ peers: 2, pending: 8 });
    await members.sync('In a full relay');
    for (const w of waiting) w.ws.terminate();
    await members.close();
  });
});

describe('one address opening 1,000 rooms', () => {
  it('is refused by the per-address limits while a member from another address connects and syncs', async () => {
    const relay = await relayWith();
    const ATTEMPTS = 1000;
    const ends: Array<{ code: number; reason: string } | 'admitted'> = [];
    const open: Raw[] = [];
    // In waves of 50 (each a room of its own, with a valid proof of that room's key), from 127.0.0.2.
    for (let i = 0; i < ATTEMPTS; i += 50) {
      const conns = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const key = await randomRoomKey();
          return raw(relay.url, key.id, { key, localAddress: '127.0.0.2' });
        })
      );
      for (const c of conns) {
        if (await c.admitted) {
          ends.push('admitted');
          open.push(c);
        } else ends.push(await c.closed);
      }
    }
    const admitted = ends.filter((e) => e === 'admitted').length;
    const refused = ends.filter((e) => e !== 'admitted') as Array<{ code: number; reason: string }>;
    expect(admitted).toBeLessThanOrEqual(64); // the per-address room limit
    expect(admitted + refused.length).toBe(ATTEMPTS);
    const reasons = new Set(refused.map((e) => `${e.code} ${e.reason}`));
    const tally = [...reasons].map((r) => `${refused.filter((e) => `${e.code} ${e.reason}` === r).length} × ${r}`);
    console.info(`1,000 rooms from one address: ${admitted} admitted; refused: ${tally.join('; ')}`);
    for (const r of reasons)
      expect(r).toMatch(/^1013 too many (rooms|connection attempts|connections awaiting admission) from this address$/);
    // A member from 127.0.0.1 is not held to 127.0.0.2's limits.
    const members = await twoMembers(relay.url);
    await members.sync('Beside a thousand rooms');
    expect(relay.stats().rooms).toBe(admitted + 1);
    for (const c of open) c.ws.terminate();
    await members.close();
  }, 120_000);
});
