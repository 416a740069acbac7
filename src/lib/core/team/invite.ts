/**
 * Invites: an admin's device lets one new device into the team.
 *
 * The code is base32 of [version 1][one-time secret, 16 bytes][first 8 bytes of the ledger id]. From the
 * secret come the invite's relay room key and its sealing key (HKDF); nothing else about the team is in the code.
 *   1. The new device sends JOIN {device key, name, X25519 key, signature by the device key} sealed with the
 *      invite key: knowing the secret authenticates it, the signature proves it holds the device key.
 *   2. The admin's device records the `member` add event, then sends WELCOME: its X25519 key (sealed with the
 *      invite key), then the ledger document and the team key sealed with a key from the X25519 exchange (so
 *      someone who learns the code later cannot read them), in numbered parts.
 *   3. The new device verifies every event of the document, checks that it is now an active member, keeps
 *      the ledger and the team key, and answers DONE. The secret is spent after one JOIN.
 * When the admin's device refuses the JOIN (the roster changed while the invite waited, the key is already a
 * member), it says why in REFUSED (sealed with the invite key; plain text of at most 500 characters, shown to
 * the new device's user as text), instead of leaving the new device waiting until it times out.
 */
import { concatBytes, fromBase64url, fromUtf8, toBase64url, toHex, utf8 } from '../bytes.ts';
import { verifySignature, type Signer } from '../keys.ts';
import {
  aeadKey,
  ephemeralKey,
  hkdf,
  lp,
  open,
  randomBytes,
  seal,
  sharedSecret,
  type AeadKey,
  type EphemeralKey
} from '../sync/crypto.ts';
import { fromBase32, toBase32 } from '../sync/base32.ts';
import { counterNonce } from '../sync/frame.ts';
import { deriveRoomKey, type RoomKey } from '../sync/room.ts';
import type { Transport } from '../sync/transport.ts';
import { decodeTeamKey, encodeTeamKey, type TeamKey } from './teamkey.ts';
import { peerText } from '../text.ts';
import { ErrorCode, LedgerError } from '../errors.ts';

const VERSION = 1;
const JOIN = 1;
const WELCOME = 2;
const PART = 3;
const DONE = 4;
const REFUSED = 5;
const MAX_REASON = 500;
const PART_SIZE = 512 * 1024;
const MAX_WELCOME = 512 * 1024 * 1024;

export interface InviteCode {
  secret: Uint8Array;
  /** Hex of the ledger id's first 8 bytes. */
  ledgerPrefix: string;
}

export function makeInviteCode(ledgerId: string): { code: string; invite: InviteCode } {
  const secret = randomBytes(16);
  const prefix = ledgerId.slice(0, 16);
  const bytes = concatBytes(
    new Uint8Array([VERSION]),
    secret,
    Uint8Array.from(prefix.match(/../g)!.map((h) => parseInt(h, 16)))
  );
  const code = toBase32(bytes)
    .match(/.{1,5}/g)!
    .join('-');
  return { code, invite: { secret, ledgerPrefix: prefix } };
}

export function parseInviteCode(code: string): InviteCode | undefined {
  const b = fromBase32(code.trim());
  if (!b || b.length !== 25 || b[0] !== VERSION) return undefined;
  return { secret: b.slice(1, 17), ledgerPrefix: toHex(b.slice(17)) };
}

/** The invite's relay room (a room key from the secret: only holders of the code enter it at the relay). */
export function inviteRoomKey(inv: InviteCode): Promise<RoomKey> {
  return deriveRoomKey(inv.secret, 'provenance-ledger/invite', 'room key');
}

export async function inviteRoom(inv: InviteCode): Promise<string> {
  return (await inviteRoomKey(inv)).id;
}

async function inviteKey(inv: InviteCode): Promise<AeadKey> {
  return aeadKey(await hkdf(inv.secret, utf8('provenance-ledger/invite'), 'key'));
}

async function sealed(k: AeadKey, kind: number, plain: Uint8Array, seq?: number): Promise<Uint8Array> {
  const nonce = seq === undefined ? randomBytes(12) : counterNonce(BigInt(seq));
  return concatBytes(new Uint8Array([kind]), nonce, await seal(k, nonce, plain, new Uint8Array([kind])));
}

async function unseal(
  k: AeadKey,
  f: Uint8Array
): Promise<{ kind: number; plain: Uint8Array; nonce: Uint8Array } | undefined> {
  if (f.length < 1 + 12 + 16) return undefined;
  const plain = await open(k, f.subarray(1, 13), f.subarray(13), f.subarray(0, 1));
  return plain && { kind: f[0], plain, nonce: f.slice(1, 13) };
}

const joinMessage = (room: string, deviceKey: string, eph: Uint8Array) =>
  lp(utf8('provenance-ledger/invite-join/v1'), utf8(room), utf8(deviceKey), eph);

export interface Joiner {
  deviceKey: string;
  name: string;
}

export interface Welcome {
  ledgerId: string;
  team: TeamKey;
  role: string;
  /** A.save() of the admin's ledger document, with the joiner's member event in it. */
  doc: Uint8Array;
}

/**
 * The admin's side: waits for one JOIN, lets `admit` record the member event, sends the welcome, waits for
 * DONE. Resolves with who joined. Frames that do not open with the invite key are ignored (the room is
 * public in principle).
 */
export async function hostInvite(o: {
  invite: InviteCode;
  transport: Transport;
  team: TeamKey;
  admit: (j: Joiner) => Promise<{ ledgerId: string; role: string; doc: Uint8Array }>;
  timeoutMs?: number;
}): Promise<Joiner> {
  const room = await inviteRoom(o.invite);
  const key = await inviteKey(o.invite);
  let spent = false;
  let welcomeKey: AeadKey | undefined;
  return new Promise<Joiner>((resolve, reject) => {
    let joiner: Joiner | undefined;
    const timer = setTimeout(
      () => reject(new LedgerError(ErrorCode.NOT_FOUND, 'nobody joined before the invite expired')),
      o.timeoutMs ?? 600_000
    );
    const fail = (e: unknown) => (clearTimeout(timer), reject(e));
    let chain = Promise.resolve();
    o.transport.onClose((r) =>
      fail(new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `the relay connection closed: ${peerText(r)}`))
    );
    o.transport.onFrame((f) => {
      chain = chain
        .then(async () => {
          if (spent && welcomeKey && f[0] === DONE) {
            const m = await unseal(welcomeKey, f);
            if (m?.kind === DONE) {
              clearTimeout(timer);
              resolve(joiner!);
            }
            return;
          }
          if (spent || f[0] !== JOIN) return;
          const m = await unseal(key, f);
          if (!m || m.kind !== JOIN) return;
          let j: { deviceKey: string; name: string; eph: string; sig: string };
          try {
            j = JSON.parse(fromUtf8(m.plain));
          } catch {
            return;
          }
          if (
            typeof j?.deviceKey !== 'string' ||
            typeof j.name !== 'string' ||
            typeof j.eph !== 'string' ||
            typeof j.sig !== 'string'
          )
            return;
          const eph = fromBase64url(j.eph);
          if (!(await verifySignature(j.deviceKey, joinMessage(room, j.deviceKey, eph), fromBase64url(j.sig)))) return;
          const mine = await ephemeralKey();
          const shared = await sharedSecret(mine, eph);
          if (!shared) return;
          spent = true;
          joiner = { deviceKey: j.deviceKey, name: j.name };
          let admitted: Awaited<ReturnType<typeof o.admit>>;
          try {
            admitted = await o.admit(joiner);
          } catch (e) {
            o.transport.send(await sealed(key, REFUSED, utf8(String((e as Error).message ?? e).slice(0, MAX_REASON))));
            throw e;
          }
          welcomeKey = await aeadKey(
            await hkdf(shared, o.invite.secret, lp(utf8('provenance-ledger/invite-welcome/v1'), utf8(room)))
          );
          const meta = utf8(
            JSON.stringify({
              ledgerId: admitted.ledgerId,
              role: admitted.role,
              team: toBase64url(encodeTeamKey(o.team))
            })
          );
          const body = concatBytes(lp(meta), admitted.doc);
          const parts = Math.max(1, Math.ceil(body.length / PART_SIZE));
          const head = new Uint8Array(36);
          head.set(mine.publicKey, 0);
          new DataView(head.buffer).setUint32(32, parts);
          o.transport.send(await sealed(key, WELCOME, head));
          for (let i = 0; i < parts; i++)
            o.transport.send(await sealed(welcomeKey, PART, body.subarray(i * PART_SIZE, (i + 1) * PART_SIZE), i));
        })
        .catch(fail);
    });
  });
}

/** The new device's side: sends JOIN (again every second until answered), receives the welcome. */
export async function joinInvite(o: {
  invite: InviteCode;
  transport: Transport;
  signer: Signer;
  name: string;
  timeoutMs?: number;
}): Promise<{ welcome: Welcome; done: () => Promise<void> }> {
  const room = await inviteRoom(o.invite);
  const key = await inviteKey(o.invite);
  const eph: EphemeralKey = await ephemeralKey();
  const sig = await o.signer.sign(joinMessage(room, o.signer.publicKey, eph.publicKey));
  const join = await sealed(
    key,
    JOIN,
    utf8(
      JSON.stringify({
        deviceKey: o.signer.publicKey,
        name: o.name,
        eph: toBase64url(eph.publicKey),
        sig: toBase64url(sig)
      })
    )
  );
  let welcomeKey: AeadKey | undefined;
  let parts = 0;
  const got: Uint8Array[] = [];
  let size = 0;
  return new Promise((resolve, reject) => {
    const again = setInterval(() => o.transport.send(join), 1000);
    const timer = setTimeout(
      () =>
        stop(
          new LedgerError(
            ErrorCode.REMOTE_UNREACHABLE,
            'no answer to the invite: is the inviting device still waiting?'
          )
        ),
      o.timeoutMs ?? 120_000
    );
    const stop = (e?: Error, w?: Welcome) => {
      clearInterval(again);
      clearTimeout(timer);
      if (e) reject(e);
      else
        resolve({
          welcome: w!,
          done: async () => o.transport.send(await sealed(welcomeKey!, DONE, utf8('done'), 0x7fffffff))
        });
    };
    let chain = Promise.resolve();
    o.transport.onClose((r) =>
      stop(new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `the relay connection closed: ${peerText(r)}`))
    );
    o.transport.onFrame((f) => {
      chain = chain
        .then(async () => {
          if (f[0] === WELCOME && !welcomeKey) {
            const m = await unseal(key, f);
            if (!m || m.plain.length !== 36) return;
            const shared = await sharedSecret(eph, m.plain.subarray(0, 32));
            if (!shared) return;
            parts = new DataView(m.plain.buffer, m.plain.byteOffset).getUint32(32);
            welcomeKey = await aeadKey(
              await hkdf(shared, o.invite.secret, lp(utf8('provenance-ledger/invite-welcome/v1'), utf8(room)))
            );
            clearInterval(again);
            return;
          }
          if (f[0] === REFUSED && !welcomeKey) {
            const m = await unseal(key, f);
            if (!m || m.kind !== REFUSED) return;
            let reason: string;
            try {
              // Shown to a person (a terminal, a page): one line, no control characters.
              reason = peerText(fromUtf8(m.plain), MAX_REASON).trim() || 'no reason given';
            } catch {
              reason = 'no reason given';
            }
            return stop(
              new LedgerError(ErrorCode.NOT_AUTHORIZED, `the inviting device refused this device: ${reason}`)
            );
          }
          if (f[0] !== PART || !welcomeKey) return;
          const m = await unseal(welcomeKey, f);
          const seq = m && Number(new DataView(m.nonce.buffer).getBigUint64(4));
          if (!m || seq !== got.length)
            return stop(new LedgerError(ErrorCode.MALFORMED, 'the welcome arrived damaged or out of order'));
          got.push(m.plain);
          size += m.plain.length;
          if (size > MAX_WELCOME) return stop(new LedgerError(ErrorCode.MALFORMED, 'the welcome is too large'));
          if (got.length < parts) return;
          const body = concatBytes(...got);
          const n = new DataView(body.buffer, body.byteOffset).getUint32(0);
          const meta = JSON.parse(fromUtf8(body.subarray(4, 4 + n)));
          const team = decodeTeamKey(fromBase64url(String(meta.team)));
          if (!team || typeof meta.ledgerId !== 'string' || !meta.ledgerId.startsWith(o.invite.ledgerPrefix)) {
            return stop(new LedgerError(ErrorCode.WRONG_LEDGER, 'the welcome is not for the ledger this invite names'));
          }
          stop(undefined, { ledgerId: meta.ledgerId, team, role: String(meta.role), doc: body.slice(4 + n) });
        })
        .catch((e) => stop(e as Error));
    });
    o.transport.send(join);
  });
}
