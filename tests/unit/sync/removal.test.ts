/**
 * Removing a member (core/team/removal.ts) and the removal notice a refused device receives (sync/hub.ts):
 * who may remove whom, the key rotation, and a notice believed only when it is a valid removal of this device
 * by an owner or admin of its own roster.
 */
import { describe, expect, it } from 'vitest';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { signEvent } from '../../../src/lib/core/event.ts';
import { loadTeamKeys, saveTeamKey } from '../../../src/lib/core/team/teamkey.ts';
import { checkRemovalNotice, removalNotice, removalOf, removalTargets, removeAndRotate } from '../../../src/lib/core/team/removal.ts';
import { hubFor, team, until } from './helpers.ts';

describe('member removal', () => {
  it('checks who may remove whom, records one remove event per device and rotates the key over them', async () => {
    const { devices, team: t } = await team(3);
    const [owner, m1, m2] = devices;
    await saveTeamKey(owner.storage, t);
    expect(() => removalTargets(owner.ledger, owner.signer.publicKey, owner.signer.publicKey)).toThrow(/cannot remove itself/);
    expect(() => removalTargets(owner.ledger, owner.signer.publicKey, 'nobody')).toThrow(/no active member/);
    expect(() => removalTargets(m1.ledger, m1.signer.publicKey, m2.signer.publicKey)).toThrow(/only an owner or admin/);
    const targets = removalTargets(owner.ledger, owner.signer.publicKey, 'Member 2');
    expect(targets.map((x) => x.key)).toEqual([m2.signer.publicKey]);
    const { events, team: next } = await removeAndRotate(owner.ledger, owner.storage, targets);
    expect(next.epoch).toBe(2);
    expect(next.covers).toEqual(events);
    expect((await loadTeamKeys(owner.storage)).map((k) => k.epoch)).toEqual([2, 1]);
    expect(owner.ledger.member(m2.signer.publicKey)?.active).toBe(false);
    expect(removalOf(owner.ledger, m2.signer.publicKey)).toMatchObject({ eventId: events[0], by: owner.signer.publicKey, byName: 'Ada' });
    expect(removalOf(owner.ledger, m1.signer.publicKey)).toBeUndefined();
  });

  it('a removal notice is believed only when it removes this device, signed by an owner or admin of its roster', async () => {
    const { devices } = await team(3);
    const [owner, m1, m2] = devices;
    const removed = owner.ledger.member(m2.signer.publicKey)!;
    await owner.ledger.append('member', { action: 'remove', member: { id: removed.memberId, name: removed.name, key: removed.key, role: removed.role } });
    const notice = removalNotice(owner.ledger, m2.signer.publicKey)!;
    expect(await checkRemovalNotice(m2.ledger, notice, m2.signer.publicKey)).toMatchObject({ byName: 'Ada', key: m2.signer.publicKey });
    // Not about this device; tampered; not JSON.
    expect(await checkRemovalNotice(m1.ledger, notice, m1.signer.publicKey)).toBeUndefined();
    const env = JSON.parse(notice);
    env.event.time = '2030-01-01T00:00:00.000Z';
    expect(await checkRemovalNotice(m2.ledger, canonicalJson(env), m2.signer.publicKey)).toBeUndefined();
    expect(await checkRemovalNotice(m2.ledger, 'not json', m2.signer.publicKey)).toBeUndefined();
    // A well-signed "removal" by a plain member: not believed.
    const forged = await signEvent(
      { ...JSON.parse(notice).event, author: m1.signer.publicKey, parents: m2.ledger.heads() },
      m1.signer
    );
    expect(await checkRemovalNotice(m2.ledger, canonicalJson(forged.envelope), m2.signer.publicKey)).toBeUndefined();
  });

  it('the hub that refuses a removed device sends it the notice; the device reports it', async () => {
    const { devices, team: t, room } = await team(2);
    const [owner, member] = devices;
    const m = owner.ledger.member(member.signer.publicKey)!;
    await owner.ledger.append('member', { action: 'remove', member: { id: m.memberId, name: m.name, key: m.key, role: m.role } });
    const r = memoryRoom();
    const ro: SyncReport[] = [];
    const rm: SyncReport[] = [];
    const ho = await hubFor(owner, t, room, r.join(), ro);
    const hm = await hubFor(member, t, room, r.join(), rm);
    await until(() => rm.some((x) => x.type === 'removed'), 5000, 'the notice');
    expect(ro.some((x) => x.type === 'rejected' && x.code === 'PEER_REMOVED')).toBe(true);
    const got = rm.find((x) => x.type === 'removed') as Extract<SyncReport, { type: 'removed' }>;
    expect(got.removal).toMatchObject({ eventId: owner.ledger.member(m.key)!.since, key: m.key, byName: 'Ada' });
    expect(rm.filter((x) => x.type === 'rejected')).toEqual([]);
    await ho.close();
    await hm.close();
  });
});
