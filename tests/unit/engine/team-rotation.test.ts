/**
 * The worker's team service (engine/team.ts) through member removal and team key rotation: three devices, each
 * a LedgerHost over its own memory storage with its own TeamService, joined by real invites and syncing through
 * a real relay on 127.0.0.1 (src/relay/server.ts, Node's WebSocket). Nothing is mocked but the storage; the
 * last test adds a member's device that speaks the wire protocol by hand (sync/hostile-peer.ts) to relay a forgery.
 */
import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { loadTeamKeys, roomKey } from '../../../src/lib/core/team/teamkey.ts';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { signEvent } from '../../../src/lib/core/event.ts';
import type { UnsignedEvent } from '../../../src/lib/core/types.ts';
import { generationBody } from '../helpers/ledger.ts';
import { pushRecord } from '../helpers/doc-edit.ts';
import { Hostile } from '../sync/hostile-peer.ts';
import { TeamService } from '../../../src/lib/engine/team.ts';
import { log, memberId, online, relayUrl, settings, team, until, useRelay, type Device } from './team-fixture.ts';

useRelay();

/** An owner and two members who joined it with invites, as on the Team page. */
async function threeDevices(): Promise<[Device, Device, Device]> {
  const [ada, bea, cleo] = await team('Bea', 'Cleo');
  return [ada, bea, cleo];
}

describe('team service: removal and key rotation', () => {
  it('an owner removes a member: the member is told, the remaining device moves to the new epoch and keeps syncing', async () => {
    const [ada, bea, cleo] = await threeDevices();
    for (const d of [ada, bea, cleo]) await d.team.start(settings());
    await until(
      'all three connected',
      async () => (await online(ada, 'Bea', 'Cleo')) && (await online(bea, 'Ada')) && (await online(cleo, 'Ada'))
    );

    const s = await ada.team.remove(memberId(await ada.team.status(), 'Cleo'));
    expect(s.epoch).toBe(2);
    expect(s.members.find((m) => m.name === 'Cleo')!.active).toBe(false);
    // The owner syncs in the new epoch's room and stays in the old one to hand the key over.
    expect(s.rooms).toEqual([
      { transport: 'relay', epoch: 2 },
      { transport: 'relay', epoch: 1 }
    ]);
    const keys = await loadTeamKeys(ada.storage);
    expect(keys.map((k) => k.epoch)).toEqual([2, 1]);
    const removal = ada.host.ledger().member(cleo.identity.publicKey)!.since;
    expect(keys[0].covers).toEqual([removal]);

    // Cleo was connected: the removal reached it before the key changed; its sync stops and cannot start again.
    const told = await until("Cleo's Team page to say it was removed", async () => (await cleo.team.status()).removed);
    expect(told).toMatchObject({ eventId: removal, by: ada.identity.publicKey, byName: 'Ada', source: 'ledger' });
    await until("Cleo's sync to stop", async () => (await cleo.team.status()).running.length === 0);
    expect(
      (await log(cleo)).some((l) => l.code === 'PEER_REMOVED' && /removed from the team by Ada/.test(l.message))
    ).toBe(true);
    await expect(cleo.team.start(settings())).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });
    expect((await cleo.team.settings()).active).toBe(false);
    await expect(cleo.host.ledger().append('generation', generationBody())).rejects.toMatchObject({
      code: 'AUTHOR_REMOVED'
    });
    expect((await loadTeamKeys(cleo.storage)).map((k) => k.epoch)).toEqual([1]);

    // Bea receives epoch 2 from the owner and moves to its room.
    await until('Bea on epoch 2', async () => {
      const b = await bea.team.status();
      return b.epoch === 2 && b.rooms.length === 1 && b.rooms[0].epoch === 2;
    });
    expect((await log(bea)).some((l) => l.kind === 'team-key' && /epoch 2\) received/.test(l.message))).toBe(true);
    expect((await loadTeamKeys(bea.storage)).map((k) => k.epoch)).toEqual([2, 1]);
    await until('Bea to hold the removal', () => bea.host.ledger().member(cleo.identity.publicKey)?.active === false);

    // And keeps syncing there: a new event reaches it.
    const ev = await ada.host.ledger().append('generation', generationBody({ project: 'After the rotation' }));
    await until('the new event at Bea', () => bea.host.ledger().get(ev.id));
    expect((await log(bea)).some((l) => l.kind === 'accepted')).toBe(true);
    expect((await bea.team.status()).removed).toBeNull();
  });

  it('a device that was offline at the rotation gets the new key from the owner in the old room; the removed device is refused there', async () => {
    const [ada, bea, cleo] = await threeDevices();
    // Nobody syncing: the owner removes Cleo; the key rotates on its own.
    const s = await ada.team.remove(memberId(await ada.team.status(), 'Cleo'));
    expect(s.epoch).toBe(2);
    expect(s.running).toEqual([]);
    await expect(ada.team.remove(memberId(s, 'Cleo'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ada.team.remove(memberId(s, 'Ada'))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    // A member may not remove anyone.
    await expect(bea.team.remove(memberId(s, 'Ada'))).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });

    const ev = await ada.host.ledger().append('generation', generationBody({ project: 'Only for the team' }));
    await ada.team.start(settings());
    expect((await ada.team.status()).rooms.map((r) => r.epoch)).toEqual([2, 1]);

    // Cleo, still on epoch 1 and unaware, records an event and syncs: the owner refuses it at the membership
    // proof and shows it the signed removal; Cleo believes it (checked against its own roster) and stops.
    const late = await cleo.host
      .ledger()
      .append('generation', generationBody({ project: 'Written after the removal' }));
    await cleo.team.start(settings());
    await until("the owner's refusal of Cleo", async () =>
      (await log(ada)).some((l) => l.kind === 'rejected' && l.code === 'PEER_REMOVED')
    );
    const removal = ada.host.ledger().member(cleo.identity.publicKey)!.since;
    const told = await until("Cleo's Team page to say it was removed", async () => (await cleo.team.status()).removed);
    expect(told).toMatchObject({ eventId: removal, byName: 'Ada', source: 'notice' });
    await until("Cleo's sync to stop", async () => (await cleo.team.status()).running.length === 0);
    expect(cleo.host.ledger().member(cleo.identity.publicKey)?.active).toBe(true); // the notice does not enter its ledger
    await expect(cleo.team.start(settings())).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });
    // Kept: a new service over the same storage (the page reloaded) still says so.
    const again = new TeamService({
      host: cleo.host,
      loadIdentity: async () => cleo.identity,
      ensureIdentity: async () => cleo.identity
    });
    expect((await again.status()).removed).toMatchObject({ eventId: removal, source: 'notice' });
    // And Cleo's device records nothing more: the ledger refuses the Record page's appends, naming the removal.
    const size = cleo.host.ledger().size;
    await expect(
      cleo.host.ledger().append('generation', generationBody({ project: 'After the notice' }))
    ).rejects.toMatchObject({ code: 'AUTHOR_REMOVED', eventId: removal });
    expect(cleo.host.ledger().size).toBe(size);

    // Bea comes back on epoch 1: handed epoch 2 in the old room, it moves and receives the owner's event.
    await bea.team.start(settings());
    await until(
      'Bea on epoch 2',
      async () => (await bea.team.status()).rooms.every((r) => r.epoch === 2) && (await bea.team.status()).epoch === 2
    );
    await until("the owner's event at Bea", () => bea.host.ledger().get(ev.id));
    expect(
      (await log(ada)).some((l) => l.kind === 'team-key' && /Handed the team key of epoch 2/.test(l.message))
    ).toBe(true);

    // Cleo's later event reached nobody; Cleo holds only the old key, so it cannot greet in the new room.
    await new Promise((r) => setTimeout(r, 1000));
    expect(ada.host.ledger().get(late.id)).toBeUndefined();
    expect(bea.host.ledger().get(late.id)).toBeUndefined();
    expect(cleo.host.ledger().get(ev.id)).toBeUndefined();
    expect((await loadTeamKeys(cleo.storage)).map((k) => k.epoch)).toEqual([1]);
    expect((await log(bea)).filter((l) => l.kind === 'rejected')).toEqual([]);
  });

  it('a device that was away through two rotations gets the newest key from the owner in its old room', async () => {
    const [ada, bea, cleo, dan] = await team('Bea', 'Cleo', 'Dan');
    // Nobody syncing: the owner removes Cleo, then Dan; the key rotates twice.
    expect((await ada.team.remove(memberId(await ada.team.status(), 'Cleo'))).epoch).toBe(2);
    expect((await ada.team.remove(memberId(await ada.team.status(), 'Dan'))).epoch).toBe(3);
    const ev = await ada.host.ledger().append('generation', generationBody({ project: 'After two rotations' }));
    await ada.team.start(settings());
    expect((await ada.team.status()).rooms.map((r) => r.epoch)).toEqual([3, 2, 1]);

    // Bea comes back on epoch 1: handed epoch 3 in its old room, it moves and receives the owner's event.
    expect((await loadTeamKeys(bea.storage)).map((k) => k.epoch)).toEqual([1]);
    await bea.team.start(settings());
    await until('Bea on epoch 3', async () => {
      const b = await bea.team.status();
      return b.epoch === 3 && b.rooms.every((r) => r.epoch === 3);
    });
    await until("the owner's event at Bea", () => bea.host.ledger().get(ev.id));
    expect((await loadTeamKeys(bea.storage)).map((k) => k.epoch)).toEqual([3, 1]);
    expect(
      (await log(ada)).some((l) => l.kind === 'team-key' && /Handed the team key of epoch 3/.test(l.message))
    ).toBe(true);
    for (const gone of [cleo, dan]) expect(bea.host.ledger().member(gone.identity.publicKey)?.active).toBe(false);
    expect((await log(bea)).filter((l) => l.kind === 'rejected')).toEqual([]);
  });

  it('an event signed by the removed key after its removal, relayed by a member, is refused and shown in the sync log', async () => {
    const [ada, bea, cleo] = await threeDevices();
    await ada.team.remove(memberId(await ada.team.status(), 'Cleo'));
    await ada.team.start(settings());
    const ledger = ada.host.ledger();
    const before = ledger.size;
    // What a removed device that kept the team's document would write: an event whose past holds its removal.
    const forged = await signEvent(
      {
        spec: 'provenance-ledger/event/v1',
        type: 'generation',
        ledger: ledger.id,
        author: cleo.identity.publicKey,
        time: new Date().toISOString(),
        parents: ledger.heads(),
        body: generationBody({ project: 'After my removal' })
      } as UnsignedEvent,
      cleo.identity.signer
    );
    let doc = A.clone(ledger.doc) as A.Doc<unknown>;
    doc = A.change(doc, (d) => pushRecord(d, [[forged.id, new TextDecoder().decode(forged.bytes)]]));
    // Bea (an active member, on epoch 2) relays it.
    const team = (await loadTeamKeys(ada.storage))[0];
    const rk = await roomKey(team);
    const room = rk.id;
    const h = new Hostile(await connectRelay(relayUrl(), rk), bea.identity.signer, team, room);
    await h.start();
    let state = A.initSyncState();
    for (let round = 0; round < 8; round++) {
      for (const m of h.inbox.splice(0)) if (m[0] === 2) [doc, state] = A.receiveSyncMessage(doc, state, m.subarray(2));
      const [s2, msg] = A.generateSyncMessage(doc, state);
      state = s2;
      if (msg) await h.sync(msg);
      await new Promise((r) => setTimeout(r, 100));
    }
    const refusal = await until('the refusal in the sync log', async () =>
      (await log(ada)).find((l) => l.kind === 'rejected' && l.code === 'AUTHOR_REMOVED')
    );
    expect(refusal.message).toContain(forged.id.slice(0, 16));
    expect(refusal.peerName).toBe('Bea');
    expect(ledger.get(forged.id)).toBeUndefined();
    expect(ledger.size).toBe(before);
    h.t.close();
  });
});
