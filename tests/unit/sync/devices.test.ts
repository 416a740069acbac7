/**
 * Invites of another device of a member, and removal of one device (core/team/devices.ts, removal.ts): the checks
 * made up front agree with the roster rules (roster.ts), which decide whether the `member` event counts, for
 * every role of the inviting device and of the member; the device added gets the member's id, name and role.
 */
import { describe, expect, it } from 'vitest';
import type { Role } from '../../../src/lib/core/roster.ts';
import { admit, deviceInviteTarget, deviceInviteTargets, newMemberRole } from '../../../src/lib/core/team/devices.ts';
import { deviceRemovalTarget } from '../../../src/lib/core/team/removal.ts';
import { newLedger, newSigner } from '../helpers/ledger.ts';
import { forkDevice } from './helpers.ts';

const ROLES: Role[] = ['owner', 'admin', 'member', 'viewer'];
const privileged = (r: Role) => r === 'owner' || r === 'admin';

/** The owner's ledger with device X (member "x", role `rx`) and member T (member "t", role `rt`, one device); X's copy of it. */
async function studio(rx: Role, rt: Role) {
  const owner = await newLedger();
  const x = await newSigner();
  const t = await newSigner();
  await owner.ledger.append('member', { action: 'add', member: { id: 'x', name: 'Xena', key: x.publicKey, role: rx } });
  await owner.ledger.append('member', { action: 'add', member: { id: 't', name: 'Tom', key: t.publicKey, role: rt } });
  const device = await forkDevice(owner.ledger, x);
  return { owner, x, t, device };
}

/** Whether `f` passes, and whether the event it stands for counts (the ledger's append applies the roster rules). */
async function agree(check: () => unknown, record: () => Promise<unknown>): Promise<[boolean, boolean]> {
  let checked = true;
  try {
    check();
  } catch {
    checked = false;
  }
  let counts = true;
  await record().catch(() => (counts = false));
  return [checked, counts];
}

describe('a member with several devices', () => {
  it('an invite of another device passes the checks exactly when the roster would accept the add event', async () => {
    for (const rx of ROLES) {
      for (const rt of ROLES) {
        const { x, device } = await studio(rx, rt);
        const key = (await newSigner()).publicKey;
        const [checked, counts] = await agree(
          () => deviceInviteTarget(device.ledger, x.publicKey, 'Tom'),
          () => device.ledger.append('member', { action: 'add', member: { id: 't', name: 'Tom', key, role: rt } })
        );
        expect([rx, rt, checked], 'the check').toEqual([rx, rt, privileged(rx) && (rx === 'owner' || !privileged(rt))]);
        expect([rx, rt, counts], 'the roster').toEqual([rx, rt, checked]);
      }
    }
  });

  it('an invite of a new member passes the checks exactly when the roster would accept the add event', async () => {
    for (const rx of ROLES) {
      for (const role of ['admin', 'member', 'viewer'] as Role[]) {
        const { x, device } = await studio(rx, 'member');
        const key = (await newSigner()).publicKey;
        const [checked, counts] = await agree(
          () => newMemberRole(device.ledger, x.publicKey, role),
          () => device.ledger.append('member', { action: 'add', member: { id: 'new', name: 'New', key, role } })
        );
        expect([rx, role, checked]).toEqual([rx, role, privileged(rx) && (rx === 'owner' || role !== 'admin')]);
        expect([rx, role, counts]).toEqual([rx, role, checked]);
      }
    }
    const { owner } = await studio('member', 'member');
    expect(() => newMemberRole(owner.ledger, owner.signer.publicKey, 'owner')).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: 'the role must be one of admin, member, viewer; got "owner"'
      })
    );
  });

  it('removing one device passes the checks exactly when the roster would accept the remove event', async () => {
    for (const rx of ROLES) {
      for (const rt of ROLES) {
        const { x, t, device } = await studio(rx, rt);
        const [checked, counts] = await agree(
          () => deviceRemovalTarget(device.ledger, x.publicKey, t.publicKey),
          () =>
            device.ledger.append('member', {
              action: 'remove',
              member: { id: 't', name: 'Tom', key: t.publicKey, role: rt }
            })
        );
        expect([rx, rt, checked], 'the check').toEqual([rx, rt, privileged(rx) && (rx === 'owner' || !privileged(rt))]);
        expect([rx, rt, counts], 'the roster').toEqual([rx, rt, checked]);
      }
    }
  });

  it("admits a device under the member's id, current name and role, whatever name it gave; checked again when it arrives", async () => {
    const { owner, t } = await studio('member', 'admin');
    const me = owner.signer.publicKey;
    const target = deviceInviteTarget(owner.ledger, me, 't');
    expect(target).toMatchObject({ memberId: 't', name: 'Tom', role: 'admin' });
    expect(target.devices.map((d) => d.key)).toEqual([t.publicKey]);
    expect(deviceInviteTarget(owner.ledger, me, t.publicKey).memberId).toBe('t');
    const laptop = await newSigner();
    const a = await admit(owner.ledger, me, { memberId: 't' }, { deviceKey: laptop.publicKey, name: 'Tom laptop' });
    expect(a).toMatchObject({ memberId: 't', name: 'Tom', role: 'admin' });
    expect(a.event.event.body).toEqual({
      action: 'add',
      member: { id: 't', name: 'Tom', key: laptop.publicKey, role: 'admin' }
    });
    expect(
      owner.ledger
        .roster()
        .filter((m) => m.memberId === 't' && m.active)
        .map((m) => [m.key, m.name, m.role])
    ).toEqual([
      [t.publicKey, 'Tom', 'admin'],
      [laptop.publicKey, 'Tom', 'admin']
    ]);
    await expect(
      admit(owner.ledger, me, { memberId: 't' }, { deviceKey: laptop.publicKey, name: 'again' })
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'that device is already a member' });
    // A new member's id comes from its key, its name from what it gave.
    const newcomer = await newSigner();
    const n = await admit(owner.ledger, me, { role: 'viewer' }, { deviceKey: newcomer.publicKey, name: 'Nia' });
    expect(n.event.event.body).toMatchObject({
      action: 'add',
      member: { name: 'Nia', key: newcomer.publicKey, role: 'viewer' }
    });
    expect(n.memberId).not.toBe('t');

    // The member is removed while the invite waits: the device that arrives then is refused, nothing recorded.
    for (const d of owner.ledger.roster().filter((m) => m.memberId === 't')) {
      await owner.ledger.append('member', {
        action: 'remove',
        member: { id: 't', name: 'Tom', key: d.key, role: d.role }
      });
    }
    const size = owner.ledger.size;
    const late = await newSigner();
    await expect(
      admit(owner.ledger, me, { memberId: 't' }, { deviceKey: late.publicKey, name: 'Tom' })
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => deviceInviteTarget(owner.ledger, me, 'Tom')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', message: 'no active member or device "Tom"' })
    );
    expect(owner.ledger.size).toBe(size);
  });

  it('refuses a member whose devices have different roles, and lists the members this device may add a device for', async () => {
    const { owner, x, t, device } = await studio('admin', 'member');
    const second = await newSigner();
    await owner.ledger.append('member', {
      action: 'add',
      member: { id: 't', name: 'Tom', key: second.publicKey, role: 'viewer' }
    });
    expect(() => deviceInviteTarget(owner.ledger, owner.signer.publicKey, 'Tom')).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message:
          "Tom's devices have different roles (member, viewer): give them one role first, which the new device then gets"
      })
    );
    // The owner may add a device for itself and for Xena (an admin); Tom's roles disagree.
    expect(deviceInviteTargets(owner.ledger, owner.signer.publicKey).map((m) => m.name)).toEqual([
      owner.ledger.member(owner.signer.publicKey)!.name,
      'Xena'
    ]);
    // Xena, an admin, only for a member: Tom (one device, one role, in her copy); not for the owner or herself.
    expect(deviceInviteTargets(device.ledger, x.publicKey).map((m) => m.name)).toEqual(['Tom']);
    expect(deviceInviteTarget(device.ledger, x.publicKey, t.publicKey).role).toBe('member');
    // A device cannot remove itself; an unknown key is no device.
    expect(() => deviceRemovalTarget(owner.ledger, owner.signer.publicKey, owner.signer.publicKey)).toThrow(
      /a device cannot remove itself/
    );
    expect(() => deviceRemovalTarget(owner.ledger, owner.signer.publicKey, 'nope')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' })
    );
  });
});
