/**
 * The worker's team service (engine/team.ts) with a member who has several devices, as the Team page drives it:
 * devices that are each a LedgerHost over its own memory storage with its own TeamService, joined by real invites
 * and syncing through a real relay on 127.0.0.1. The owner invites another device of a member (`team-invite` with
 * a member id); it joins under the member's id, name and role, whatever name was typed; the owner later removes
 * that one device (`team-remove-device`): it is told and stops, the member's other device moves to the new team
 * key epoch and keeps syncing. When that device's own role changes by an event it receives, its sync follows:
 * promoted to admin it also opens the earlier epoch's room; demoted, it leaves it.
 */
import { describe, expect, it } from 'vitest';
import { keyFingerprint, type PublicKey } from '../../../src/lib/core/keys.ts';
import { generationBody } from '../helpers/ledger.ts';
import { device, joins, member, relayUrl, settings, until, useRelay, type Device } from './team-fixture.ts';

useRelay();

const logged = async (d: Device, re: RegExp) => (await d.team.status()).log.some((l) => re.test(l.message));

describe('team service: a member with several devices', () => {
  it('invites another device of a member, removes that one device, and follows a role change in its rooms', async () => {
    const ada = await device('Ada');
    await ada.host.create('Ada', 'Studio');
    const bea = await joins(ada, 'Bea', { role: 'member' });
    const cleo = await joins(ada, 'Cleo', { role: 'admin' });
    const s0 = await ada.team.status();
    const [adaId, beaId] = [member(s0, 'Ada').memberId, member(s0, 'Bea').memberId];

    // Who may invite a device for whom, as each Team page is told: the owner for everyone, itself included; an
    // admin for a member only; a member for no one.
    expect(s0.members.map((m) => [m.name, m.deviceInvite])).toEqual([
      ['Ada', true],
      ['Bea', true],
      ['Cleo', true]
    ]);
    expect((await cleo.team.status()).members.map((m) => [m.name, m.deviceInvite])).toEqual([
      ['Ada', false],
      ['Bea', true],
      ['Cleo', false]
    ]);
    expect((await bea.team.status()).members.every((m) => !m.deviceInvite)).toBe(true);
    // Refused: a member inviting, an admin adding a device to the owner, an unknown member, a role with a member.
    await expect(bea.team.invite(undefined, relayUrl(), beaId)).rejects.toMatchObject({
      code: 'AUTHOR_NOT_AUTHORIZED',
      message: expect.stringMatching(/only an owner or admin may invite/)
    });
    await expect(cleo.team.invite(undefined, relayUrl(), adaId)).rejects.toMatchObject({
      code: 'AUTHOR_NOT_AUTHORIZED',
      message: expect.stringMatching(/only an owner may add a device to an owner or admin/)
    });
    await expect(ada.team.invite(undefined, relayUrl(), 'no-such-member')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ada.team.invite('viewer', relayUrl(), beaId)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/no role goes with it/)
    });
    expect((await ada.team.status()).invites).toHaveLength(2);

    // Another device of Bea: the invite says for whom; the device joins typing another name and takes Bea's.
    const size = ada.host.ledger().size;
    const bea2 = await joins(ada, 'Bea laptop', { memberId: beaId });
    const invite = (await ada.team.status()).invites.at(-1)!;
    expect(invite).toMatchObject({
      role: 'member',
      member: { id: beaId, name: 'Bea' },
      state: 'joined',
      joinedName: 'Bea'
    });
    expect(ada.host.ledger().size).toBe(size + 1);
    const add = ada.host.ledger().get(ada.host.ledger().member(bea2.identity.publicKey)!.since)!;
    expect(add.event).toMatchObject({
      author: ada.identity.publicKey,
      body: { action: 'add', member: { id: beaId, name: 'Bea', key: bea2.identity.publicKey, role: 'member' } }
    });
    expect(await bea2.host.open()).toMatchObject({
      state: 'ready',
      member: { name: 'Bea', publicKey: bea2.identity.publicKey }
    });
    expect(bea2.identity.memberName).toBe('Bea');
    const b2 = await bea2.team.status();
    expect(b2.me).toEqual({ key: bea2.identity.publicKey, role: 'member' });
    expect(
      b2.log.some((l) =>
        l.message.startsWith(
          'Joined “Studio” as another device of Bea (member); the name typed, “Bea laptop”, is not used'
        )
      )
    ).toBe(true);
    // One member with two devices on the owner's Team page, each removable there; this device's own is not.
    const s1 = await ada.team.status();
    expect(s1.members.map((m) => m.name)).toEqual(['Ada', 'Bea', 'Cleo']);
    expect(member(s1, 'Bea').devices.map((d) => [d.key, d.active, d.removable])).toEqual([
      [bea.identity.publicKey, true, true],
      [bea2.identity.publicKey, true, true]
    ]);
    expect(member(s1, 'Ada').devices.map((d) => [d.me, d.removable])).toEqual([[true, false]]);
    expect((await bea.team.status()).members.flatMap((m) => m.devices).some((d) => d.removable)).toBe(false);

    // Ada, Bea and her laptop sync (Cleo stays away); the laptop's event reaches everyone.
    for (const d of [ada, bea, bea2]) await d.team.start(settings());
    const fromLaptop = await bea2.host.ledger().append('generation', generationBody());
    await until(
      "the laptop's event at the owner's and at Bea's desk",
      () => ada.host.ledger().get(fromLaptop.id) && bea.host.ledger().get(fromLaptop.id)
    );

    // Refused removals: a member removing, a device removing itself, a key that is no device, an admin removing the owner's.
    await expect(bea.team.removeDevice(bea2.identity.publicKey)).rejects.toMatchObject({
      code: 'AUTHOR_NOT_AUTHORIZED'
    });
    await expect(ada.team.removeDevice(ada.identity.publicKey)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: 'a device cannot remove itself'
    });
    await expect(ada.team.removeDevice('no-such-key')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ada.team.removeDevice(undefined)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(cleo.team.removeDevice(ada.identity.publicKey)).rejects.toMatchObject({
      code: 'AUTHOR_NOT_AUTHORIZED'
    });

    // The laptop is lost: the owner removes that device, through the request the page sends.
    const s2 = await ada.team.handle({ type: 'team-remove-device', key: bea2.identity.publicKey });
    expect(s2.epoch).toBe(2);
    expect(member(s2, 'Bea')).toMatchObject({ active: true, role: 'member' });
    expect(member(s2, 'Bea').devices.map((d) => [d.key, d.active])).toEqual([
      [bea.identity.publicKey, true],
      [bea2.identity.publicKey, false]
    ]);
    const fp = await keyFingerprint(bea2.identity.publicKey as PublicKey);
    expect(
      s2.log.some(
        (l) =>
          l.message.startsWith(`Removed Bea's device ${fp} (member event `) &&
          l.message.endsWith('Bea stays a member with 1 device; team key rotated to epoch 2')
      )
    ).toBe(true);
    // The laptop is told and stops; Bea's desk device moves to the new epoch and keeps syncing.
    expect(
      await until("the laptop's Team page to say it was removed", async () => (await bea2.team.status()).removed)
    ).toMatchObject({ by: ada.identity.publicKey, byName: 'Ada' });
    await until("the laptop's sync to stop", async () => (await bea2.team.status()).running.length === 0);
    await until(
      "Bea's desk device on epoch 2",
      async () =>
        (await bea.team.status()).rooms.every((r) => r.epoch === 2) && (await bea.team.status()).rooms.length === 1
    );
    // The laptop holds its removal (it was connected): it records nothing more.
    await expect(bea2.host.ledger().append('generation', generationBody())).rejects.toMatchObject({
      code: 'AUTHOR_REMOVED'
    });
    const fromDesk = await bea.host.ledger().append('generation', generationBody());
    await until("the desk's event at the owner's", () => ada.host.ledger().get(fromDesk.id));
    expect(bea.host.ledger().member(bea2.identity.publicKey)!.active).toBe(false);

    // Bea is made an admin: her device, which holds the keys of epochs 1 and 2, also syncs in epoch 1's room now.
    await ada.team.changeRole(beaId, 'admin');
    await until(
      "Bea's device in the earlier epoch's room",
      async () => (await bea.team.status()).rooms.map((r) => r.epoch).join() === '2,1'
    );
    expect(
      await logged(bea, /^This device is now an admin: sync also waits in the rooms of 1 earlier team key epoch/)
    ).toBe(true);
    // And back to a member: it leaves that room, and keeps syncing in the current one.
    await ada.team.changeRole(beaId, 'member');
    await until(
      "Bea's device to leave the earlier epoch's room",
      async () => (await bea.team.status()).rooms.map((r) => r.epoch).join() === '2'
    );
    expect(await logged(bea, /^This device is now a member: sync leaves the rooms of earlier team key epochs$/)).toBe(
      true
    );
    const again = await ada.host.ledger().append('generation', generationBody());
    await until("the owner's new event at Bea's desk", () => bea.host.ledger().get(again.id));
    for (const d of [ada, bea]) expect((await d.host.ledger().verify()).ok).toBe(true);
  }, 90_000);
});
