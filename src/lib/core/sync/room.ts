/**
 * Room keys: who may enter a room at the relay (ledger-schema/README.md section 19, "Room admission").
 *
 * A room's id is an Ed25519 public key whose private key is derived (HKDF) from a secret only the room's devices
 * hold: the team key for a team's sync and signaling rooms, the invite secret for an invite's room. The relay
 * sends each connection a fresh challenge; the connection answers with the room key's signature over it, which the
 * relay checks against the room id before the connection may send a frame or count against the room's capacity.
 * So the relay learns nothing that lets it (or anyone reading its logs or the URLs) enter a room, and a stranger
 * who knows only the room id cannot enter it.
 */
import { concatBytes, fromHex, toBase64url, utf8 } from '../bytes.ts';
import { verifySignature } from '../keys.ts';
import { hkdf, lp, randomBytes } from './crypto.ts';

/** A room as a device holds it: the id (what the relay sees) and the key that proves a connection may enter. */
export interface RoomKey {
  /** base64url of the room's 32-byte Ed25519 public key (43 characters). */
  readonly id: string;
  /** The admission proof for a challenge the relay sent (an Ed25519 signature, 64 bytes). */
  prove(challenge: Uint8Array): Promise<Uint8Array>;
}

/** Room ids: 43 base64url characters (a 32-byte Ed25519 public key). */
export const ROOM_ID_RE = /^[A-Za-z0-9_-]{43}$/;
export const CHALLENGE_LEN = 32;
const ADMISSION_CONTEXT = 'provenance-ledger/relay-admission/v1';
/** PKCS#8 wrapping of a raw 32-byte Ed25519 private key (RFC 8410): this prefix, then the seed. */
const PKCS8_ED25519 = fromHex('302e020100300506032b657004220420');
const ED = { name: 'Ed25519' } as const;

/** What the room key signs: the context, the room id and the relay's challenge, length-prefixed. */
export function admissionMessage(roomId: string, challenge: Uint8Array): Uint8Array {
  return lp(utf8(ADMISSION_CONTEXT), utf8(roomId), challenge);
}

/** The relay's check: `proof` is the room key's signature over the challenge it sent. */
export function checkAdmission(roomId: string, challenge: Uint8Array, proof: Uint8Array): Promise<boolean> {
  if (!ROOM_ID_RE.test(roomId) || challenge.length !== CHALLENGE_LEN) return Promise.resolve(false);
  return verifySignature(roomId, admissionMessage(roomId, challenge), proof);
}

/** The room key of a 32-byte seed. */
export async function roomKeyFromSeed(seed: Uint8Array): Promise<RoomKey> {
  if (seed.length !== 32) throw new TypeError('a room key seed is 32 bytes');
  const pkcs8 = concatBytes(PKCS8_ED25519, seed);
  const temp = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, ED, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', temp);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, ED, false, ['sign']);
  const id = jwk.x!;
  return {
    id,
    prove: async (challenge) =>
      new Uint8Array(await crypto.subtle.sign(ED, privateKey, admissionMessage(id, challenge) as BufferSource))
  };
}

/** The room key derived from a shared secret: seed = HKDF-SHA256(ikm, salt, info, 32 bytes). */
export async function deriveRoomKey(ikm: Uint8Array, salt: string, info: string): Promise<RoomKey> {
  return roomKeyFromSeed(await hkdf(ikm, utf8(salt), info, 32));
}

/** A room of its own (tests, benchmarks). */
export function randomRoomKey(): Promise<RoomKey> {
  return roomKeyFromSeed(randomBytes(32));
}

/** The JSON text messages of admission (relay → device: challenge, admitted; device → relay: proof). */
export const admission = {
  challenge: (c: Uint8Array) => JSON.stringify({ challenge: toBase64url(c) }),
  proof: (p: Uint8Array) => JSON.stringify({ proof: toBase64url(p) }),
  admitted: () => JSON.stringify({ admitted: true })
};
