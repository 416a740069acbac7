/**
 * Changing a member's role (core/team/roles.ts): who may change whose role to what, every refusal with its
 * message, and the success path: one `update` event per device of the member, signed by the device that made
 * the change, the new role in the roster of every device, and the rules of the new role applied to its events.
 */
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import { assignableRoles, changeRole, memberDevices, roleTargets } from '../../../src/lib/core/team/roles.ts';
import { generationBody, newSigner } from '../helpers/ledger.ts';
import { forkDevice, team } from './helpers.ts';

const keyOf = (s: Signer) => s.publicKey;

/** Ada the owner, Member 1 and Member 2; Grace with two devices (one member id); Member 1 made an admin. */
async function studio() {
  const { devices } = await team(3);
  const [owner, m1, m2] = devices;
  const g1 = await newSigner();
  const g2 = await newSigner();
  for (const s of [g1, g2])
    await owner.ledger.append('member', {
      action: 'add',
      member: { id: 'grace', name: 'Grace', key: s.publicKey, role: 'member' }
    });
  await changeRole(owner.ledger, roleTargets(owner.ledger, keyOf(owner.signer), 'Member 1', 'admin'), 'admin');
  // Member 1's device as it is after a sync with the owner: it holds the promotion.
  const admin = await forkDevice(owner.ledger, m1.signer, Date.parse('2026-11-02T09:00:00.000Z'));
  return { owner, admin, m2, g1, g2 };
}

describe('changing a member role', () => {
  it('refuses a device that is not an active owner or admin', async () => {
    const { owner, m2 } = await studio();
    const device = await forkDevice(owner.ledger, m2.signer, Date.parse('2026-11-02T09:00:00.000Z'));
    expect(() => roleTargets(device.ledger, keyOf(m2.signer), 'Grace', 'viewer')).toThrow(
      /only an owner or admin may change a member's role \(this device is member\)/
    );
    const stranger = await newSigner();
    expect(() => roleTargets(owner.ledger, keyOf(stranger), 'Grace', 'viewer')).toThrow(
      /this device is not an active member/
    );
    // A removed admin changes nothing either.
    const m = owner.ledger.member(keyOf(m2.signer))!;
    await owner.ledger.append('member', {
      action: 'update',
      member: { id: m.memberId, name: m.name, key: m.key, role: 'admin' }
    });
    await owner.ledger.append('member', {
      action: 'remove',
      member: { id: m.memberId, name: m.name, key: m.key, role: 'admin' }
    });
    expect(() => roleTargets(owner.ledger, keyOf(m2.signer), 'Grace', 'viewer')).toThrow(
      expect.objectContaining({ code: 'AUTHOR_NOT_AUTHORIZED' })
    );
  });

  it('refuses an unknown member, a role that does not exist, and a role the member already has', async () => {
    const { owner } = await studio();
    const me = keyOf(owner.signer);
    expect(() => roleTargets(owner.ledger, me, 'Nobody', 'viewer')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', message: 'no active member or device "Nobody"' })
    );
    for (const bad of ['superuser', 'Owner', '', 'create']) {
      expect(() => roleTargets(owner.ledger, me, 'Grace', bad)).toThrow(
        expect.objectContaining({
          code: 'BAD_INPUT',
          message: `the role must be one of owner, admin, member, viewer; got "${bad}"`
        })
      );
    }
    expect(() => roleTargets(owner.ledger, me, 'Grace', 'member')).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: 'Grace is already a member' })
    );
    expect(() => roleTargets(owner.ledger, me, 'Member 1', 'admin')).toThrow(/Member 1 is already an admin/);
    // A removed member is unknown here (inviting again is the way back).
    const m = owner.ledger.member(memberDevices(owner.ledger, 'Member 2')[0].key)!;
    await owner.ledger.append('member', {
      action: 'remove',
      member: { id: m.memberId, name: m.name, key: m.key, role: m.role }
    });
    expect(() => roleTargets(owner.ledger, me, 'Member 2', 'viewer')).toThrow(/no active member or device "Member 2"/);
  });

  it('refuses a name two members share, and resolves a device key or member id to the whole member', async () => {
    const { owner, g1, g2 } = await studio();
    const me = keyOf(owner.signer);
    for (const ref of [keyOf(g2), 'grace', 'Grace'])
      expect(
        roleTargets(owner.ledger, me, ref, 'viewer')
          .map((t) => t.key)
          .sort()
      ).toEqual([keyOf(g1), keyOf(g2)].sort());
    const other = await newSigner();
    await owner.ledger.append('member', {
      action: 'add',
      member: { id: 'grace-2', name: 'Grace', key: other.publicKey, role: 'member' }
    });
    expect(() => roleTargets(owner.ledger, me, 'Grace', 'viewer')).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: '"Grace" names 2 members: give a member id or a device key'
      })
    );
    expect(roleTargets(owner.ledger, me, 'grace-2', 'viewer').map((t) => t.key)).toEqual([other.publicKey]);
  });

  it('an admin may not grant, change or revoke the owner or admin role', async () => {
    const { owner, admin, m2 } = await studio();
    const me = keyOf(admin.signer);
    const onlyOwner = /only an owner may grant, change or revoke the owner or admin role/;
    expect(() => roleTargets(admin.ledger, me, 'Member 2', 'admin')).toThrow(onlyOwner); // grant admin
    expect(() => roleTargets(admin.ledger, me, 'Member 2', 'owner')).toThrow(onlyOwner); // grant owner
    expect(() => roleTargets(admin.ledger, me, 'Ada', 'member')).toThrow(onlyOwner); // change an owner
    expect(() => roleTargets(admin.ledger, me, 'Member 1', 'member')).toThrow(onlyOwner); // itself, an admin
    expect(assignableRoles(admin.ledger, me, 'Member 2')).toEqual(['viewer']);
    expect(assignableRoles(admin.ledger, me, 'Ada')).toEqual([]);
    // What it may do: make a member a viewer, and back.
    const ev = await changeRole(admin.ledger, roleTargets(admin.ledger, me, 'Member 2', 'viewer'), 'viewer');
    expect(admin.ledger.get(ev[0])!.event.author).toBe(me);
    expect(admin.ledger.member(keyOf(m2.signer))!.role).toBe('viewer');
    await changeRole(admin.ledger, roleTargets(admin.ledger, me, 'Member 2', 'member'), 'member');
    expect(admin.ledger.member(keyOf(m2.signer))!.role).toBe('member');
    expect(owner.ledger.member(keyOf(m2.signer))!.role).toBe('member'); // not synced: the owner's ledger is its own
  });

  it('refuses a change that leaves no active owner; an owner steps down once another owner exists', async () => {
    const { owner, admin } = await studio();
    const me = keyOf(owner.signer);
    for (const role of ['admin', 'member', 'viewer']) {
      expect(() => roleTargets(owner.ledger, me, 'Ada', role)).toThrow(
        expect.objectContaining({
          code: 'BAD_INPUT',
          message: 'the ledger would have no active owner left: make another member an owner first'
        })
      );
    }
    expect(assignableRoles(owner.ledger, me, 'Ada')).toEqual([]);
    expect(assignableRoles(owner.ledger, me, 'Member 1')).toEqual(['owner', 'member', 'viewer']);
    await changeRole(owner.ledger, roleTargets(owner.ledger, me, 'Member 1', 'owner'), 'owner');
    expect(assignableRoles(owner.ledger, me, 'Ada')).toEqual(['admin', 'member', 'viewer']);
    await changeRole(owner.ledger, roleTargets(owner.ledger, me, 'Ada', 'admin'), 'admin');
    expect(owner.ledger.member(me)!.role).toBe('admin');
    expect(owner.ledger.member(keyOf(admin.signer))!.role).toBe('owner');
    // Now an admin, Ada may not take the owner role back, nor demote the last owner.
    expect(() => roleTargets(owner.ledger, me, 'Ada', 'owner')).toThrow(/only an owner may grant/);
    expect(() => roleTargets(owner.ledger, me, 'Member 1', 'member')).toThrow(/only an owner may grant/);
  });

  it('records one update per device of the member, signed by the owner: every device gets the new role, and every copy of the ledger agrees', async () => {
    const { owner, g1, g2 } = await studio();
    const me = keyOf(owner.signer);
    const before = owner.ledger.size;
    const targets = roleTargets(owner.ledger, me, 'Grace', 'admin');
    const events = await changeRole(owner.ledger, targets, 'admin');
    expect(events).toHaveLength(2);
    expect(owner.ledger.size).toBe(before + 2);
    const bodies = events.map((id) => {
      const ev = owner.ledger.get(id)!;
      expect(ev.event.type).toBe('member');
      expect(ev.event.author).toBe(me);
      return ev.event.body;
    });
    expect(bodies).toEqual(
      expect.arrayContaining([
        { action: 'update', member: { id: 'grace', name: 'Grace', key: keyOf(g1), role: 'admin' } },
        { action: 'update', member: { id: 'grace', name: 'Grace', key: keyOf(g2), role: 'admin' } }
      ])
    );
    for (const s of [g1, g2])
      expect(owner.ledger.member(keyOf(s))).toMatchObject({
        memberId: 'grace',
        name: 'Grace',
        role: 'admin',
        active: true
      });
    // The ledger opened again from storage (acceptance decided afresh) and a teammate's copy say the same.
    const reopened = await Ledger.open({ storage: owner.storage });
    const grace = await forkDevice(owner.ledger, g1, Date.parse('2026-11-03T09:00:00.000Z'));
    for (const l of [reopened, grace.ledger]) {
      expect(l.member(keyOf(g1))!.role).toBe('admin');
      expect(l.member(keyOf(g2))!.role).toBe('admin');
      expect((await l.verify()).ok).toBe(true);
    }
    // As an admin, Grace may now change a member's role.
    expect(roleTargets(grace.ledger, keyOf(g1), 'Member 2', 'viewer').map((t) => t.name)).toEqual(['Member 2']);
  });

  it('updates only the devices whose role differs', async () => {
    const { owner, g1, g2 } = await studio();
    const me = keyOf(owner.signer);
    await owner.ledger.append('member', {
      action: 'update',
      member: { id: 'grace', name: 'Grace', key: keyOf(g2), role: 'viewer' }
    });
    const targets = roleTargets(owner.ledger, me, 'Grace', 'viewer');
    expect(targets.map((t) => t.key)).toEqual([keyOf(g1)]);
    expect(await changeRole(owner.ledger, targets, 'viewer')).toHaveLength(1);
    expect([g1, g2].map((s) => owner.ledger.member(keyOf(s))!.role)).toEqual(['viewer', 'viewer']);
    expect(() => roleTargets(owner.ledger, me, 'Grace', 'viewer')).toThrow(/already a viewer/);
  });

  it('a member made a viewer records nothing from then on', async () => {
    const { owner, m2 } = await studio();
    // Before: Member 2 records a generation.
    const before = await forkDevice(owner.ledger, m2.signer, Date.parse('2026-11-02T09:00:00.000Z'));
    await expect(before.ledger.append('generation', generationBody())).resolves.toBeDefined();
    await changeRole(owner.ledger, roleTargets(owner.ledger, keyOf(owner.signer), 'Member 2', 'viewer'), 'viewer');
    const after = await forkDevice(owner.ledger, m2.signer, Date.parse('2026-11-03T09:00:00.000Z'));
    expect(after.ledger.member(keyOf(m2.signer))!.role).toBe('viewer');
    const size = after.ledger.size;
    await expect(after.ledger.append('generation', generationBody())).rejects.toMatchObject({
      code: 'AUTHOR_NOT_AUTHORIZED'
    });
    expect(after.ledger.size).toBe(size);
  });
});
