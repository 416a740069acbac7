/**
 * The worker's team service (engine/team.ts) changing a member's role, as the Team page does: three devices,
 * each a LedgerHost over its own memory storage with its own TeamService, joined by real invites and syncing
 * through a real relay on 127.0.0.1. The owner makes a member an admin; the change reaches that member's
 * device over sync, whose Team page then offers it an admin's choices, which it uses.
 */
import { describe, expect, it } from 'vitest';
import { generationBody } from '../helpers/ledger.ts';
import { member, settings, team, until, useRelay } from './team-fixture.ts';

useRelay();

describe('team service: changing a role', () => {
  it('the owner makes a member an admin; the change syncs to the member, who may then act as an admin', async () => {
    const [ada, bea, cleo] = await team('Bea', 'Cleo');
    const beaId = member(await ada.team.status(), 'Bea').memberId;
    const cleoId = member(await ada.team.status(), 'Cleo').memberId;

    // What each device's Team page is offered: the owner every role it may give, a member nothing.
    const a0 = await ada.team.status();
    expect(member(a0, 'Bea').assignable).toEqual(['owner', 'admin', 'viewer']);
    expect(member(a0, 'Ada').assignable).toEqual([]); // the only owner
    for (const m of (await bea.team.status()).members) expect(m.assignable).toEqual([]);

    const size = ada.host.ledger().size;
    // Refused: a member changing roles, a role that does not exist, an unknown member, the only owner stepping down.
    await expect(bea.team.changeRole(member(a0, 'Ada').memberId, 'admin')).rejects.toMatchObject({
      code: 'AUTHOR_NOT_AUTHORIZED'
    });
    await expect(ada.team.changeRole(beaId, 'superuser')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(ada.team.changeRole('no-such-member', 'viewer')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ada.team.changeRole(undefined, 'viewer')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(ada.team.changeRole(member(a0, 'Ada').memberId, 'admin')).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/no active owner left/)
    });
    expect(ada.host.ledger().size).toBe(size);

    for (const d of [ada, bea, cleo]) await d.team.start(settings());
    await until(
      'all three connected',
      async () => (await ada.team.status()).peers.filter((p) => p.online).length === 2
    );

    // Through the request the page sends.
    const s = await ada.team.handle({ type: 'team-role', memberId: beaId, role: 'admin' });
    expect(member(s, 'Bea').role).toBe('admin');
    expect(member(s, 'Bea').assignable).toEqual(['owner', 'member', 'viewer']);
    expect(
      s.log.some(
        (l) => l.kind === 'info' && /^Bea is now an admin \(was member; member event [0-9a-f]{16}\)$/.test(l.message)
      )
    ).toBe(true);
    expect(ada.host.ledger().size).toBe(size + 1);
    const update = ada.host.ledger().member(bea.identity.publicKey)!.since;
    expect(ada.host.ledger().get(update)!.event).toMatchObject({
      type: 'member',
      author: ada.identity.publicKey,
      body: { action: 'update', member: { id: beaId, name: 'Bea', key: bea.identity.publicKey, role: 'admin' } }
    });

    // Bea's device receives it over sync: its Team page now offers an admin's choices.
    await until(
      "Bea's device to hold the change",
      () => bea.host.ledger().member(bea.identity.publicKey)?.role === 'admin'
    );
    const b = await bea.team.status();
    expect(b.me.role).toBe('admin');
    expect(member(b, 'Cleo').assignable).toEqual(['viewer']);
    expect(member(b, 'Ada').assignable).toEqual([]);
    await expect(bea.team.changeRole(cleoId, 'admin')).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });

    // As an admin, Bea makes Cleo a viewer; the owner and Cleo receive it, and Cleo can no longer record.
    await bea.team.changeRole(cleoId, 'viewer');
    await until(
      "the owner's device to hold Bea's change",
      () => ada.host.ledger().member(cleo.identity.publicKey)?.role === 'viewer'
    );
    await until(
      "Cleo's device to hold it",
      () => cleo.host.ledger().member(cleo.identity.publicKey)?.role === 'viewer'
    );
    expect(ada.host.ledger().get(ada.host.ledger().member(cleo.identity.publicKey)!.since)!.event.author).toBe(
      bea.identity.publicKey
    );
    await expect(cleo.host.ledger().append('generation', generationBody())).rejects.toMatchObject({
      code: 'AUTHOR_NOT_AUTHORIZED'
    });
    for (const d of [ada, bea, cleo]) expect((await d.host.ledger().verify()).ok).toBe(true);
  }, 60_000);
});
