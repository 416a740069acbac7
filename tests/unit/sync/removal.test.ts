/**
 * Removing a member (core/team/removal.ts) and the removal notice a refused device receives (sync/hub.ts):
 * who may remove whom, the key rotation, and a notice believed only when it is a valid removal of this device
 * by an owner or admin of its own roster; the kept notice that stops the removed device's appends; receive
 * refusing an event whose past holds its author's removal; allowed-signers' valid-before for a removed key.
 */
import { describe, expect, it } from 'vitest';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { signEvent } from '../../../src/lib/core/event.ts';
import { loadTeamKeys, saveTeamKey } from '../../../src/lib/core/team/teamkey.ts';
import {
  checkRemovalNotice,
  keepRemovalNotice,
  REMOVAL_NOTICE_KEY,
  removalNotice,
  removalOf,
  removalTargets,
  removeAndRotate
} from '../../../src/lib/core/team/removal.ts';
import { EVENT_SPEC, formatTime, type LedgerEvent } from '../../../src/lib/core/event.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { signEventCommit } from '../../../src/lib/core/journal/commit.ts';
import { encodeSig, sigKey } from '../../../src/lib/core/journal/signatures.ts';
import { allowedSigners, opensshTime, removedUntil } from '../../../src/lib/core/journal/allowed-signers.ts';
import { fromUtf8, utf8 } from '../../../src/lib/core/bytes.ts';
import type { UnsignedEvent } from '../../../src/lib/core/types.ts';
import { generationBody } from '../helpers/ledger.ts';
import { forkDevice, hubFor, team, until } from './helpers.ts';

describe('member removal', () => {
  it('checks who may remove whom, records one remove event per device and rotates the key over them', async () => {
    const { devices, team: t } = await team(3);
    const [owner, m1, m2] = devices;
    await saveTeamKey(owner.storage, t);
    expect(() => removalTargets(owner.ledger, owner.signer.publicKey, owner.signer.publicKey)).toThrow(
      /cannot remove itself/
    );
    expect(() => removalTargets(owner.ledger, owner.signer.publicKey, 'nobody')).toThrow(/no active member/);
    expect(() => removalTargets(m1.ledger, m1.signer.publicKey, m2.signer.publicKey)).toThrow(/only an owner or admin/);
    const targets = removalTargets(owner.ledger, owner.signer.publicKey, 'Member 2');
    expect(targets.map((x) => x.key)).toEqual([m2.signer.publicKey]);
    const { events, team: next } = await removeAndRotate(owner.ledger, owner.storage, targets);
    expect(next.epoch).toBe(2);
    expect(next.covers).toEqual(events);
    expect((await loadTeamKeys(owner.storage)).map((k) => k.epoch)).toEqual([2, 1]);
    expect(owner.ledger.member(m2.signer.publicKey)?.active).toBe(false);
    expect(removalOf(owner.ledger, m2.signer.publicKey)).toMatchObject({
      eventId: events[0],
      by: owner.signer.publicKey,
      byName: 'Ada'
    });
    expect(removalOf(owner.ledger, m1.signer.publicKey)).toBeUndefined();
  });

  it('a removal notice is believed only when it removes this device, signed by an owner or admin of its roster', async () => {
    const { devices } = await team(3);
    const [owner, m1, m2] = devices;
    const removed = owner.ledger.member(m2.signer.publicKey)!;
    await owner.ledger.append('member', {
      action: 'remove',
      member: { id: removed.memberId, name: removed.name, key: removed.key, role: removed.role }
    });
    const notice = removalNotice(owner.ledger, m2.signer.publicKey)!;
    expect(await checkRemovalNotice(m2.ledger, notice, m2.signer.publicKey)).toMatchObject({
      byName: 'Ada',
      key: m2.signer.publicKey
    });
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
    await owner.ledger.append('member', {
      action: 'remove',
      member: { id: m.memberId, name: m.name, key: m.key, role: m.role }
    });
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

  it('a kept notice: the removed device appends nothing, after a reopen too, until the key is added again', async () => {
    const { devices } = await team(2);
    const [owner, member] = devices;
    const m = owner.ledger.member(member.signer.publicKey)!;
    const removal = await owner.ledger.append('member', {
      action: 'remove',
      member: { id: m.memberId, name: m.name, key: m.key, role: m.role }
    });
    const told = (await checkRemovalNotice(member.ledger, removalNotice(owner.ledger, m.key)!, m.key))!;
    expect(told.notice).toBe(removalNotice(owner.ledger, m.key));
    await keepRemovalNotice(member.storage, member.ledger, told);
    const size = member.ledger.size;
    const heads = member.ledger.heads();
    await expect(member.ledger.append('generation', generationBody())).rejects.toMatchObject({
      code: 'AUTHOR_REMOVED',
      eventId: removal.id
    });
    await expect(member.ledger.append('generation', generationBody())).rejects.toThrow(
      /removed from the team by Ada .*records nothing more/
    );
    expect(member.ledger.size).toBe(size);
    expect(member.ledger.heads()).toEqual(heads);
    // Kept: a reopened ledger refuses too.
    const reopened = await Ledger.open({ storage: member.storage, signer: member.signer });
    expect(reopened.removedBy).toMatchObject({ eventId: removal.id, byName: 'Ada' });
    await expect(reopened.append('generation', generationBody())).rejects.toMatchObject({ code: 'AUTHOR_REMOVED' });
    // Read-only opens (no device key) are not concerned.
    expect((await Ledger.open({ storage: member.storage })).removedBy).toBeUndefined();
    // A kept notice that no longer checks (changed on disk) is not believed.
    const env = JSON.parse(fromUtf8((await member.storage.load(REMOVAL_NOTICE_KEY))!));
    env.event.body.member.key = owner.signer.publicKey;
    await member.storage.save(REMOVAL_NOTICE_KEY, utf8(JSON.stringify(env)));
    expect((await Ledger.open({ storage: member.storage, signer: member.signer })).removedBy).toBeUndefined();
    await member.storage.save(REMOVAL_NOTICE_KEY, utf8(told.notice!));

    // Added again after the removal: the ledger shows it (the removal and the new add), the notice no longer holds.
    await owner.ledger.append('member', {
      action: 'add',
      member: { id: m.memberId, name: m.name, key: m.key, role: 'member' }
    });
    const again = await forkDevice(owner.ledger, member.signer);
    await again.storage.save(REMOVAL_NOTICE_KEY, utf8(told.notice!));
    const back = await Ledger.open({ storage: again.storage, signer: member.signer });
    expect(back.removedBy).toBeUndefined();
    expect((await back.append('generation', generationBody())).event.author).toBe(m.key);
  });

  it("receive refuses an event whose past holds its author's removal, naming it; allowed-signers ends the key", async () => {
    const { devices } = await team(2);
    const [owner, member] = devices;
    const m = owner.ledger.member(member.signer.publicKey)!;
    // Offline, the member records concurrently with its removal: it counts.
    const offline = await member.ledger.append('generation', generationBody());
    const removal = await owner.ledger.append('member', {
      action: 'remove',
      member: { id: m.memberId, name: m.name, key: m.key, role: m.role }
    });
    const entry = (l: Ledger, e: LedgerEvent): Array<[string, string]> => [
      [e.id, canonicalJson({ event: e.event, sig: e.sig })],
      [sigKey(e.id), l.journalSignature(e.id)!]
    ];
    const r1 = await owner.ledger.receive(entry(member.ledger, offline));
    expect(r1.problems).toEqual([]);
    expect(r1.accepted).toEqual([offline.id]);
    // After it: refused, whatever time it claims.
    const newest = Math.max(...owner.ledger.heads().map((h) => Date.parse(owner.ledger.get(h)!.event.time)));
    for (const time of [newest + 1000, newest]) {
      const event = {
        spec: EVENT_SPEC,
        type: 'generation',
        ledger: owner.ledger.id,
        author: m.key,
        time: formatTime(new Date(time)),
        parents: owner.ledger.heads(),
        body: generationBody()
      } as unknown as UnsignedEvent;
      const { id, envelope, bytes } = await signEvent(event, member.signer);
      const ev: LedgerEvent = { id, event, sig: envelope.sig };
      const commit = await signEventCommit(
        { ev, parentOids: event.parents.map((p) => owner.ledger.commitOf(p)!), authorName: m.name },
        member.signer
      );
      const size = owner.ledger.size;
      const r = await owner.ledger.receive([
        [id, fromUtf8(bytes)],
        [sigKey(id), encodeSig(commit.signature)]
      ]);
      expect(r.accepted).toEqual([]);
      expect(r.problems).toContainEqual(expect.objectContaining({ code: 'AUTHOR_REMOVED', eventId: id }));
      expect(r.problems.find((p) => p.eventId === id)!.message).toContain(`removed by event ${removal.id}`);
      expect(owner.ledger.size).toBe(size);
    }
    // valid-before: the later of the removal and the key's newest event that counts, to the second, in UTC.
    const roster = owner.ledger.roster();
    const until = removedUntil(roster, owner.ledger.events(), (id) => owner.ledger.get(id));
    const last = [removal.event.time, offline.event.time].sort().at(-1)!;
    expect(until.get(m.key)).toBe(last);
    expect(until.has(owner.signer.publicKey)).toBe(false);
    const text = allowedSigners(roster, owner.ledger.name, until);
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toHaveLength(2);
    expect(lines.filter((l) => l.includes(`valid-before="${opensshTime(last)}"`))).toHaveLength(1);
    expect(opensshTime('2026-12-07T10:00:00.999Z')).toBe('20261207100000Z');
    expect(opensshTime('2026-01-31T23:59:59.000Z')).toBe('20260131235959Z');
  });
});
