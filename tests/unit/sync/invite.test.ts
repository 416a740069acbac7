/**
 * The invite exchange itself (core/team/invite.ts) over an in-memory room: the welcome reaches the new device
 * whole; a JOIN the admitting device refuses is answered with the reason, which the new device reports at once
 * instead of waiting for its timeout; a refusal sealed with another key is ignored; the secret is spent.
 */
import { describe, expect, it } from 'vitest';
import { hostInvite, joinInvite, makeInviteCode, type Joiner } from '../../../src/lib/core/team/invite.ts';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import { newTeamKey } from '../../../src/lib/core/team/teamkey.ts';
import { randomBytes } from '../../../src/lib/core/sync/crypto.ts';
import { toHex } from '../../../src/lib/core/bytes.ts';
import { newSigner } from '../helpers/ledger.ts';

const ledgerId = toHex(randomBytes(32));

describe('invite exchange', () => {
  it('the new device receives the welcome whole and the host learns who joined', async () => {
    const { invite } = makeInviteCode(ledgerId);
    const room = memoryRoom();
    const team = newTeamKey(3);
    // More than one part of the welcome (512 KiB each).
    const doc = new Uint8Array(700_000);
    for (let i = 0; i < doc.length; i += 65_536) doc.set(randomBytes(Math.min(65_536, doc.length - i)), i);
    const signer = await newSigner();
    const admitted: Joiner[] = [];
    const host = hostInvite({
      invite,
      transport: room.join(),
      team,
      timeoutMs: 20_000,
      admit: async (j) => (admitted.push(j), { ledgerId, role: 'viewer', doc })
    });
    const { welcome, done } = await joinInvite({
      invite,
      transport: room.join(),
      signer,
      name: 'Bea',
      timeoutMs: 20_000
    });
    expect(welcome).toMatchObject({ ledgerId, role: 'viewer' });
    expect(welcome.team.epoch).toBe(3);
    expect(toHex(welcome.team.key)).toBe(toHex(team.key));
    expect(welcome.doc.length).toBe(doc.length);
    expect(toHex(welcome.doc)).toBe(toHex(doc));
    await done();
    expect(await host).toEqual({ deviceKey: signer.publicKey, name: 'Bea' });
    expect(admitted).toEqual([{ deviceKey: signer.publicKey, name: 'Bea' }]);
  });

  it('a refused JOIN is answered with the reason: the new device says so at once, the host fails with it', async () => {
    const { invite } = makeInviteCode(ledgerId);
    const room = memoryRoom();
    const reason = 'only an owner may add a device to an owner or admin (Ada is an owner)';
    const host = hostInvite({
      invite,
      transport: room.join(),
      team: newTeamKey(1),
      timeoutMs: 20_000,
      admit: async () => {
        // Control characters (a terminal escape, a line break) do not reach the person reading the reason.
        throw new Error(`\u001b[2J${reason}\nsecond line`);
      }
    });
    const hostResult = host.then(
      () => 'joined',
      (e: Error) => e.message
    );
    // The new device would wait ten minutes for a welcome: the refusal ends the wait with its reason.
    await expect(
      joinInvite({ invite, transport: room.join(), signer: await newSigner(), name: 'Bea', timeoutMs: 600_000 })
    ).rejects.toMatchObject({
      name: 'LedgerError',
      code: 'AUTHOR_NOT_AUTHORIZED',
      message: `the inviting device refused this device: [2J${reason} second line`
    });
    expect(await hostResult).toBe(`\u001b[2J${reason}\nsecond line`);
  });

  it('a refusal that does not open with the invite key is ignored; the real welcome still arrives', async () => {
    const { invite } = makeInviteCode(ledgerId);
    const { invite: other } = makeInviteCode(ledgerId);
    const room = memoryRoom();
    const forger = room.join();
    // Replays the frames of another invite's refusal into this room: sealed with the wrong key.
    const otherRoom = memoryRoom();
    const otherHost = hostInvite({
      invite: other,
      transport: otherRoom.join(),
      team: newTeamKey(1),
      timeoutMs: 20_000,
      admit: async () => Promise.reject(new Error('no'))
    }).catch(() => undefined);
    await joinInvite({
      invite: other,
      transport: otherRoom.join(),
      signer: await newSigner(),
      name: 'X',
      timeoutMs: 20_000
    }).catch(() => undefined);
    await otherHost;
    const refusal = otherRoom.frames.find((f) => f[0] === 5);
    expect(refusal).toBeDefined();
    const doc = randomBytes(10);
    const host = hostInvite({
      invite,
      transport: room.join(),
      team: newTeamKey(1),
      timeoutMs: 20_000,
      admit: async () => ({ ledgerId, role: 'member', doc })
    });
    const joining = joinInvite({
      invite,
      transport: room.join(),
      signer: await newSigner(),
      name: 'Bea',
      timeoutMs: 20_000
    });
    forger.send(refusal!);
    const { welcome, done } = await joining;
    expect(toHex(welcome.doc)).toBe(toHex(doc));
    await done();
    await host;
  });
});
