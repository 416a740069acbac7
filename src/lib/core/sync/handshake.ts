/**
 * The membership proof that opens every sync session, before any ledger data.
 *
 * Each connection has a random 16-byte id, a fresh 32-byte nonce and a fresh X25519 key. Its HELLO
 * (device key, nonce, X25519 key, epoch) is sealed with the room's hello key (from the team key), so only
 * holders of the team key can read or forge it. Once both HELLOs are known, both sides compute
 *   th   = SHA-256(lp("provenance-ledger/sync/v1", room, epoch, lower conn id, its hello, higher conn id, its hello))
 *   keys = HKDF(X25519 shared secret, salt = team key, info = lp("provenance-ledger/sync/key", th, sender conn id))
 * and each sends, as sealed message 0, an Ed25519 signature by its device key over
 *   lp("provenance-ledger/sync-auth/v1", th, its conn id)
 * which binds the proof to both fresh nonces, both connections, the room and the epoch. The other side checks
 * the signature and that the key is an active member of its own roster. Session keys come from an ephemeral
 * X25519 exchange, so someone who holds only the team key (a removed member, say) can read no session.
 */
import { concatBytes, fromBase64url, toBase64url, utf8 } from '../bytes.ts';
import { verifySignature, type Signer } from '../keys.ts';
import {
  aeadKey,
  ephemeralKey,
  hkdf,
  lp,
  sha256Bytes,
  sharedSecret,
  randomBytes,
  type AeadKey,
  type EphemeralKey
} from './crypto.ts';
import type { TeamKey } from '../team/teamkey.ts';

export const HELLO_LEN = 32 + 32 + 32 + 4;

export interface Hello {
  deviceKey: string;
  nonce: Uint8Array;
  eph: Uint8Array;
  epoch: number;
  /** The exact plaintext (hashed into the transcript). */
  bytes: Uint8Array;
}

export interface LocalHello {
  hello: Hello;
  eph: EphemeralKey;
}

export async function makeHello(signer: Signer, epoch: number): Promise<LocalHello> {
  const eph = await ephemeralKey();
  const nonce = randomBytes(32);
  const e = new Uint8Array(4);
  new DataView(e.buffer).setUint32(0, epoch);
  const bytes = concatBytes(fromBase64url(signer.publicKey), nonce, eph.publicKey, e);
  return { hello: { deviceKey: signer.publicKey, nonce, eph: eph.publicKey, epoch, bytes }, eph };
}

/** Parses a HELLO plaintext (already authenticated by the hello key, but still checked field by field). */
export function parseHello(b: Uint8Array): Hello | undefined {
  if (b.length !== HELLO_LEN) return undefined;
  const epoch = new DataView(b.buffer, b.byteOffset, b.length).getUint32(96);
  return {
    deviceKey: toBase64url(b.slice(0, 32)),
    nonce: b.slice(32, 64),
    eph: b.slice(64, 96),
    epoch,
    bytes: b.slice()
  };
}

export async function helloKey(team: TeamKey, room: string): Promise<AeadKey> {
  return aeadKey(await hkdf(team.key, utf8('provenance-ledger/hello'), lp(utf8(room), utf8(String(team.epoch)))));
}

export interface SessionKeys {
  th: Uint8Array;
  send: AeadKey;
  recv: AeadKey;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Session keys for one pair of connections; undefined when the peer's X25519 key is unusable. */
export async function sessionKeys(
  team: TeamKey,
  room: string,
  me: { conn: Uint8Array; local: LocalHello },
  peer: { conn: Uint8Array; hello: Hello }
): Promise<SessionKeys | undefined> {
  const shared = await sharedSecret(me.local.eph, peer.hello.eph);
  if (!shared) return undefined;
  const mine = [me.conn, me.local.hello.bytes];
  const theirs = [peer.conn, peer.hello.bytes];
  const [lo, hi] = compare(me.conn, peer.conn) < 0 ? [mine, theirs] : [theirs, mine];
  const th = await sha256Bytes(
    lp(utf8('provenance-ledger/sync/v1'), utf8(room), utf8(String(team.epoch)), lo[0], lo[1], hi[0], hi[1])
  );
  const key = async (from: Uint8Array) =>
    aeadKey(await hkdf(shared, team.key, lp(utf8('provenance-ledger/sync/key'), th, from)));
  return { th, send: await key(me.conn), recv: await key(peer.conn) };
}

const authMessage = (th: Uint8Array, conn: Uint8Array) => lp(utf8('provenance-ledger/sync-auth/v1'), th, conn);

export async function signAuth(signer: Signer, th: Uint8Array, myConn: Uint8Array): Promise<Uint8Array> {
  return signer.sign(authMessage(th, myConn));
}

export async function checkAuth(
  deviceKey: string,
  th: Uint8Array,
  peerConn: Uint8Array,
  sig: Uint8Array
): Promise<boolean> {
  return verifySignature(deviceKey, authMessage(th, peerConn), sig);
}
