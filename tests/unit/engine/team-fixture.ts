/**
 * Shared set-up of the team service tests (team-rotation, team-roles, team-devices): devices that are each a
 * LedgerHost over its own memory storage with its own TeamService (engine/team.ts), joined by real invites and
 * syncing through a real relay on 127.0.0.1 (src/relay/server.ts). Nothing is mocked but the storage.
 * `useRelay()` registers the hooks: one relay per test file, every TeamService stopped after each test.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { LedgerHost, type DeviceIdentity } from '../../../src/lib/engine/host.ts';
import { TeamService } from '../../../src/lib/engine/team.ts';
import type { SyncSettings, TeamStatus } from '../../../src/lib/engine/team-protocol.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { startRelay, type Relay } from '../../../src/relay/server.ts';

let relay: Relay | undefined;
const running: TeamService[] = [];

/** Starts the file's relay before its tests, stops every TeamService after each test, and the relay at the end. */
export function useRelay(): void {
  beforeAll(async () => {
    relay = await startRelay({ port: 0 });
  });
  afterEach(async () => {
    for (const t of running.splice(0)) await t.stop();
  });
  afterAll(async () => {
    await relay?.close();
  });
}

export function relayUrl(): string {
  if (!relay) throw new Error('useRelay() was not called in this test file');
  return relay.url;
}

export interface Device {
  name: string;
  host: LedgerHost;
  team: TeamService;
  storage: MemoryStorage;
  /** The device's identity as its store holds it (a join under another member's name renames it). */
  identity: DeviceIdentity;
}

/** A device with a fresh key and empty storage; its identity is made when the host first asks for one. */
export async function device(name: string): Promise<Device> {
  const storage = new MemoryStorage();
  const k = await generateDeviceKey(false);
  const identity: DeviceIdentity = {
    memberName: name,
    publicKey: k.publicKey,
    signer: signerFromCryptoKey(k.privateKey, k.publicKey)
  };
  let made = false;
  const loadIdentity = async () => (made ? { ...identity } : undefined);
  const ensureIdentity = async () => ((made = true), { ...identity });
  const renameIdentity = async (to: string) => void (identity.memberName = to);
  const host = new LedgerHost({ init: async () => {}, openStorage: async () => storage, loadIdentity, ensureIdentity });
  const team = new TeamService({ host, loadIdentity, ensureIdentity, renameIdentity });
  running.push(team);
  return { name, host, team, storage, identity };
}

/** Polls `f` every 50 ms until it gives a truthy value, which it returns; fails after `ms`, naming `what`. */
export async function until<T>(
  what: string,
  f: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 20_000
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `name` joins with an invite `owner` makes: a new member with `role` (default member), or another device of `memberId`. */
export async function joins(
  owner: Device,
  name: string,
  how: { role?: string; memberId?: string } = {}
): Promise<Device> {
  const d = await device(name);
  await d.host.open();
  const inv = await owner.team.handle({
    type: 'team-invite',
    relay: relayUrl(),
    ...(how.memberId ? how : { role: how.role ?? 'member' })
  });
  expect((await d.team.join(inv.code, name, relayUrl())).state).toBe('ready');
  await until(
    `${name}'s invite to finish`,
    async () => (await owner.team.status()).invites.find((i) => i.code === inv.code)?.state === 'joined'
  );
  return d;
}

/** An owner (Ada, who creates the ledger "Studio") and members `names` who joined it with invites, in order. */
export async function team(...names: string[]): Promise<Device[]> {
  const ada = await device('Ada');
  await ada.host.create('Ada', 'Studio');
  const members: Device[] = [];
  for (const name of names) members.push(await joins(ada, name));
  return [ada, ...members];
}

/** Sync through the test relay only. */
export const settings = (): SyncSettings => ({ relay: relayUrl(), relayOn: true, webrtc: false, tabs: false });
export const member = (s: TeamStatus, name: string) => s.members.find((m) => m.name === name)!;
export const memberId = (s: TeamStatus, name: string) => member(s, name).memberId;
/** Whether `d` sees every one of `names` online. */
export const online = async (d: Device, ...names: string[]): Promise<boolean> => {
  const s = await d.team.status();
  return names.every((n) => s.peers.some((p) => p.name === n && p.online));
};
export const log = async (d: Device) => (await d.team.status()).log;
