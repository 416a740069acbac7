/**
 * The team key: 32 random bytes shared by the devices of a team, one per epoch. It seals the frames that
 * open a sync (HELLO) and salts every session key; the relay room is derived from it, so a room id says
 * nothing about the team and changes when the key does. Stored beside the ledger, never in it:
 *   team/key/<epoch>   JSON { epoch, key (base64url), covers: [removal event ids this epoch follows] }
 * The owner makes epoch 1 (lazily, on first use: `ensureTeamKey`); a removal moves to a new epoch, and the
 * new key reaches each remaining device inside an authenticated session (sync/session.ts).
 */
import type { StorageAdapter } from '../storage.ts';
import { fromBase64url, fromUtf8, toBase64url, utf8 } from '../bytes.ts';
import { randomBytes } from '../sync/crypto.ts';
import { deriveRoomKey, type RoomKey } from '../sync/room.ts';

export interface TeamKey {
  epoch: number;
  key: Uint8Array;
  /** Ids of the member-removal events this epoch was made after. */
  covers: string[];
}

const PREFIX = ['team', 'key'];

export function newTeamKey(epoch: number, covers: string[] = []): TeamKey {
  return { epoch, key: randomBytes(32), covers: [...covers].sort() };
}

export function encodeTeamKey(k: TeamKey): Uint8Array {
  return utf8(JSON.stringify({ epoch: k.epoch, key: toBase64url(k.key), covers: k.covers }));
}

/** Parses a team key record (from storage or a peer: checked field by field). */
export function decodeTeamKey(b: Uint8Array): TeamKey | undefined {
  try {
    const r = JSON.parse(fromUtf8(b));
    if (typeof r !== 'object' || r === null) return undefined;
    if (!Number.isSafeInteger(r.epoch) || r.epoch < 1) return undefined;
    if (typeof r.key !== 'string') return undefined;
    const key = fromBase64url(r.key);
    if (key.length !== 32) return undefined;
    if (!Array.isArray(r.covers) || !r.covers.every((c: unknown) => typeof c === 'string' && /^[0-9a-f]{64}$/.test(c)))
      return undefined;
    return { epoch: r.epoch, key, covers: r.covers };
  } catch {
    return undefined;
  }
}

export async function saveTeamKey(storage: StorageAdapter, k: TeamKey): Promise<void> {
  await storage.save([...PREFIX, String(k.epoch)], encodeTeamKey(k));
}

/** Every stored team key, newest epoch first. */
export async function loadTeamKeys(storage: StorageAdapter): Promise<TeamKey[]> {
  const out: TeamKey[] = [];
  for (const c of await storage.loadRange(PREFIX)) {
    const k = decodeTeamKey(c.data);
    if (k && String(k.epoch) === c.key[2]) out.push(k);
  }
  return out.sort((a, b) => b.epoch - a.epoch);
}

export async function currentTeamKey(storage: StorageAdapter): Promise<TeamKey | undefined> {
  return (await loadTeamKeys(storage))[0];
}

/** The team key, made now (epoch 1) when this device owns the ledger and none exists yet. */
export async function ensureTeamKey(storage: StorageAdapter, isOwner: boolean): Promise<TeamKey | undefined> {
  const cur = await currentTeamKey(storage);
  if (cur || !isOwner) return cur;
  const k = newTeamKey(1);
  await saveTeamKey(storage, k);
  return k;
}

/** Earlier epochs an owner or admin keeps syncing in, besides the current one (see syncEpochs). */
export const HANDOVER_EPOCHS = 8;

/**
 * The team keys whose rooms a device syncs in: the newest; for an owner or admin also the earlier ones it holds
 * (up to HANDOVER_EPOCHS), where it hands the newest key to devices that were away while the key changed, once
 * or several times. A removed device that greets there is refused at the membership proof.
 */
export function syncEpochs(keys: TeamKey[], role: string | undefined): TeamKey[] {
  const privileged = role === 'owner' || role === 'admin';
  return keys.slice(0, privileged ? 1 + HANDOVER_EPOCHS : 1);
}

/**
 * The relay room of an epoch: a room key (sync/room.ts) derived from the team key, so its id reveals nothing,
 * changes with the key, and only holders of the team key can enter it at the relay.
 */
export function roomKey(k: TeamKey): Promise<RoomKey> {
  return deriveRoomKey(k.key, 'provenance-ledger/room-key', `epoch ${k.epoch}`);
}

/** The id of an epoch's room (what the relay sees; sync binds its greetings and transcripts to it). */
export async function roomId(k: TeamKey): Promise<string> {
  return (await roomKey(k)).id;
}
