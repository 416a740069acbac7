/**
 * The worker's team service (engine/team.ts) changing a member's role, as the Team page does: three devices,
 * each a LedgerHost over its own memory storage with its own TeamService, joined by real invites and syncing
 * through a real relay on 127.0.0.1. The owner makes a member an admin; the change reaches that member's
 * device over sync, whose Team page then offers it an admin's choices, which it uses.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LedgerHost, type DeviceIdentity } from '../../../src/lib/engine/host.ts';
import { TeamService } from '../../../src/lib/engine/team.ts';
import type { SyncSettings, TeamStatus } from '../../../src/lib/engine/team-protocol.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { startRelay, type Relay } from '../../../src/relay/server.ts';
import { generationBody } from '../helpers/ledger.ts';

let relay: Relay;
const running: TeamService[] = [];
beforeAll(async () => {
  relay = await startRelay({ port: 0 });
});
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop();
});
afterAll(async () => {
  await relay.close();
});

interface Device {
  name: string;
  host: LedgerHost;
  team: TeamService;
  identity: DeviceIdentity;
}

async function device(name: string): Promise<Device> {
  const storage = new MemoryStorage();
  const k = await generateDeviceKey(false);
  const identity: DeviceIdentity = { memberName: name, publicKey: k.publicKey, signer: signerFromCryptoKey(k.privateKey, k.publicKey) };
  let made = false;
  const loadIdentity = async () => (made ? identity : undefined);
  const ensureIdentity = async () => ((made = true), identity);
  const host = new LedgerHost({ init: async () => {}, openStorage: async () => storage, loadIdentity, ensureIdentity });
  const team = new TeamService({ host, loadIdentity, ensureIdentity });
  running.push(team);
  return { name, host, team, identity };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An owner (Ada) and members `names` who joined it with invites. */
async function team(...names: string[]): Promise<Device[]> {
  const ada = await device('Ada');
  await ada.host.create('Ada', 'Studio');
  const members: Device[] = [];
  for (const name of names) {
    const d = await device(name);
    await d.host.open();
    const inv = await ada.team.invite('member', relay.url);
    expect((await d.team.join(inv.code, name, relay.url)).state).toBe('ready');
    await until(`${name}'s invite to finish`, async () => (await ada.team.status()).invites.find((i) => i.code === inv.code)?.state === 'joined');
    members.push(d);
  }
  return [ada, ...members];
}

const settings = (): SyncSettings => ({ relay: relay.url, relayOn: true, webrtc: false, tabs: false });
const member = (s: TeamStatus, name: string) => s.members.find((m) => m.name === name)!;

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
    await expect(bea.team.changeRole(member(a0, 'Ada').memberId, 'admin')).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });
    await expect(ada.team.changeRole(beaId, 'superuser')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(ada.team.changeRole('no-such-member', 'viewer')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ada.team.changeRole(undefined, 'viewer')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(ada.team.changeRole(member(a0, 'Ada').memberId, 'admin')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/no active owner left/) });
    expect(ada.host.ledger().size).toBe(size);

    for (const d of [ada, bea, cleo]) await d.team.start(settings());
    await until('all three connected', async () => (await ada.team.status()).peers.filter((p) => p.online).length === 2);

    // Through the request the page sends.
    const s = await ada.team.handle({ type: 'team-role', memberId: beaId, role: 'admin' });
    expect(member(s, 'Bea').role).toBe('admin');
    expect(member(s, 'Bea').assignable).toEqual(['owner', 'member', 'viewer']);
    expect(s.log.some((l) => l.kind === 'info' && /^Bea is now an admin \(was member; member event [0-9a-f]{16}\)$/.test(l.message))).toBe(true);
    expect(ada.host.ledger().size).toBe(size + 1);
    const update = ada.host.ledger().member(bea.identity.publicKey)!.since;
    expect(ada.host.ledger().get(update)!.event).toMatchObject({
      type: 'member',
      author: ada.identity.publicKey,
      body: { action: 'update', member: { id: beaId, name: 'Bea', key: bea.identity.publicKey, role: 'admin' } }
    });

    // Bea's device receives it over sync: its Team page now offers an admin's choices.
    await until("Bea's device to hold the change", () => bea.host.ledger().member(bea.identity.publicKey)?.role === 'admin');
    const b = await bea.team.status();
    expect(b.me.role).toBe('admin');
    expect(member(b, 'Cleo').assignable).toEqual(['viewer']);
    expect(member(b, 'Ada').assignable).toEqual([]);
    await expect(bea.team.changeRole(cleoId, 'admin')).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });

    // As an admin, Bea makes Cleo a viewer; the owner and Cleo receive it, and Cleo can no longer record.
    await bea.team.changeRole(cleoId, 'viewer');
    await until("the owner's device to hold Bea's change", () => ada.host.ledger().member(cleo.identity.publicKey)?.role === 'viewer');
    await until("Cleo's device to hold it", () => cleo.host.ledger().member(cleo.identity.publicKey)?.role === 'viewer');
    expect(ada.host.ledger().get(ada.host.ledger().member(cleo.identity.publicKey)!.since)!.event.author).toBe(bea.identity.publicKey);
    await expect(cleo.host.ledger().append('generation', generationBody())).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });
    for (const d of [ada, bea, cleo]) expect((await d.host.ledger().verify()).ok).toBe(true);
  }, 60_000);
});
