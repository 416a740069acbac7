/**
 * A frame's header is cleartext: its `from` names a connection but proves nothing. Someone in the room (here: a
 * holder of the team key who is no member, so it can seal greetings too) sends frames whose `from` names a
 * member's connection: sealed frames that do not open under the session key (at the expected sequence number
 * and others), greetings that do not open, a greeting that opens but differs from the member's, truncated and
 * oversized frames. Each is dropped and reported, none counts against the member: its session goes on, and an
 * event it records afterwards still arrives.
 */
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../../src/lib/core/bytes.ts';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import { BROADCAST, KIND_HELLO, KIND_SEALED, MAX_FRAME, frameHeader } from '../../../src/lib/core/sync/frame.ts';
import { randomBytes, seal } from '../../../src/lib/core/sync/crypto.ts';
import { helloKey, makeHello } from '../../../src/lib/core/sync/handshake.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { generationBody, newSigner } from '../helpers/ledger.ts';
import { hubFor, team, until } from './helpers.ts';

describe('frames whose unauthenticated `from` names a member', () => {
  it('are dropped and held against no one: the member stays connected and keeps syncing', async () => {
    const { devices, team: t, room } = await team(2);
    const [victim, member] = devices;
    const r = memoryRoom();
    const reports: SyncReport[] = [];
    const vh = await hubFor(victim, t, room, r.join(), reports);
    const mh = await hubFor(member, t, room, r.join());
    await until(() => vh.peers().length === 1 && mh.peers().length === 1, 10_000, 'the member connected');
    await until(() => vh.quiet(300) && mh.quiet(300), 10_000, 'sync settled');

    const spoofer = r.join();
    const from = mh.conn;
    const to = vh.conn;
    const hk = await helloKey(t, room);
    const other = await makeHello(await newSigner(), t.epoch);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) {
      // Sealed frames at the member's next sequence numbers, and far ahead: they do not open under its session key.
      for (const seq of [BigInt(i), 1000n + BigInt(i)])
        frames.push(concatBytes(frameHeader(KIND_SEALED, from, to, seq), randomBytes(80)));
      // A greeting that does not open with the room's hello key.
      frames.push(concatBytes(frameHeader(KIND_HELLO, from, BROADCAST, 0n), randomBytes(12), randomBytes(116)));
      // A greeting that opens (the spoofer holds the team key) but is not the member's.
      const h = frameHeader(KIND_HELLO, from, to, 0n);
      const nonce = randomBytes(12);
      frames.push(concatBytes(h, nonce, await seal(hk, nonce, other.hello.bytes, concatBytes(h, nonce))));
      // Truncated and oversized frames with the member's header.
      frames.push(frameHeader(KIND_SEALED, from, to, 0n).subarray(0, 30));
      const big = new Uint8Array(MAX_FRAME + 1);
      big.set(frameHeader(KIND_SEALED, from, to, 0n));
      frames.push(big);
    }
    const before = reports.length;
    for (const f of frames) spoofer.send(f);
    await until(() => reports.filter((x) => x.type === 'rejected').length >= 20, 10_000, 'the forged frames reported');
    await until(() => vh.quiet(200), 10_000, 'the forged frames handled');

    const after = reports.slice(before);
    expect(after.filter((x) => x.type === 'disconnected')).toEqual([]);
    const codes = new Set(after.filter((x) => x.type === 'rejected').map((x) => (x as { code: string }).code));
    expect([...codes].sort()).toEqual(['FRAME_INVALID', 'FRAME_TOO_LARGE', 'PROTOCOL_VIOLATION']);
    for (const x of after) if (x.type === 'rejected') expect(x.message).toMatch(/dropped: it may be forged/);
    expect(vh.peers().map((p) => p.peer)).toEqual([member.signer.publicKey]);

    // The member's session is intact: what it records now reaches the victim.
    const e = await member.ledger.append('generation', generationBody({ project: 'After the spoofing' }));
    mh.poke();
    await until(() => victim.ledger.get(e.id) !== undefined, 10_000, "the member's event arrived");
    expect(reports.some((x) => x.type === 'accepted' && x.events.includes(e.id))).toBe(true);
    await vh.close();
    await mh.close();
    spoofer.close();
  });
});
