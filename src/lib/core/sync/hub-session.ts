/**
 * The hub's sessions (hub.ts): the state its parts share (HubCore), one Session per connection, greetings,
 * the membership proof, sealed sends, strikes against a session and frames dropped without one.
 */
import * as A from '@automerge/automerge/slim';
import type { PublicKey } from '../keys.ts';
import { keyFingerprint } from '../keys.ts';
import { concatBytes, utf8 } from '../bytes.ts';
import { removalNotice } from '../team/removal.ts';
import { open, randomBytes, seal, type AeadKey } from './crypto.ts';
import { KIND_HELLO, KIND_SEALED, counterNonce, frameHeader, type ConnId } from './frame.ts';
import {
  checkAuth,
  parseHello,
  sessionKeys,
  signAuth,
  type Hello,
  type LocalHello,
  type SessionKeys
} from './handshake.ts';
import { SyncCode } from './codes.ts';
import { PeerHeads } from '../proofs/signed-head.ts';
import type { OutgoingWitnessRequest, WitnessLog } from '../proofs/witness-sync.ts';
import type { SyncHubOptions, SyncReport } from './hub.ts';
import { pump } from './hub-sync.ts';
import { offerTeamKey } from './hub-team.ts';
import { WITNESS_BURST, stopWitness } from './hub-witness.ts';

/** Message types inside sealed frames (first plaintext byte). */
export const MSG_AUTH = 1;
export const MSG_SYNC = 2;
export const MSG_TEAM_KEY = 3;
/** Witnessing at sync: a checkpoint to cosign (witness request JSON), and the answer (witness response JSON). */
export const MSG_WITNESS_REQUEST = 4;
export const MSG_WITNESS_RESPONSE = 5;
/** To a peer refused because it was removed: the signed removal event (core/team/removal.ts), so it knows why. */
export const MSG_REMOVED = 6;
/**
 * The sender's signed tree head, sent before the sync message it precedes: uint32 BE start, uint32 BE note
 * length, the checkpoint note, then the event ids (32 raw bytes each) of its log's leaves from `start` to the
 * checkpoint's size (ledger-schema/README.md section 19, "Signed tree heads at sync").
 */
export const MSG_SIGNED_HEAD = 7;
const MAX_PENDING = 64;
/** Frames dropped without a strike (they do not authenticate) reported per hub; the rest are dropped silently. */
const MAX_DROPPED_REPORTS = 20;

export interface Session {
  conn: ConnId;
  hex: string;
  hello?: Hello;
  keys?: SessionKeys;
  authed: boolean;
  peer?: PublicKey;
  keyId?: string;
  sendSeq: bigint;
  recvSeq: bigint;
  out: Promise<void>;
  fragments: Uint8Array[];
  fragmentBytes: number;
  syncState: A.SyncState;
  shadow?: A.Doc<unknown>;
  /** A change from this peer was refused: its sync messages are ignored for the rest of the session. */
  refusedOnce?: boolean;
  strikes: number;
  dead: boolean;
  lastActivity: number;
  /** Messages sent and received (round-trip counting for the benchmark). */
  sent: number;
  received: number;
  bytesSent: number;
  /** Witnessing: the debounce timer, a request being made, the request awaiting its answer, and a rerun asked for. */
  witnessTimer?: ReturnType<typeof setTimeout>;
  witnessMaking: boolean;
  witnessOut?: { req: OutgoingWitnessRequest; retried: boolean; timer: ReturnType<typeof setTimeout> };
  witnessAgain: boolean;
  /** The peer's budget of witness requests (token bucket). */
  witnessTokens: number;
  witnessRefilled: number;
  /** The peer's signed tree heads offered in this session (its events they cover skip their own signature check). */
  heads?: PeerHeads;
  /** The size of this device's log up to which its signed head was sent to the peer in this session. */
  headSent: number;
}

/** The hub's state, shared by its parts (hub-session, hub-sync, hub-team, hub-witness); SyncHub owns it. */
export interface HubCore {
  readonly o: SyncHubOptions;
  readonly conn: ConnId;
  local: LocalHello;
  helloKey: AeadKey;
  readonly sessions: Map<string, Session>;
  readonly blocked: Set<string>;
  inbox: Promise<void>;
  closed: boolean;
  saveTimer: ReturnType<typeof setTimeout> | undefined;
  lastActivity: number;
  /** The frame being handled was dropped or ignored. */
  idle: boolean;
  dropped: number;
  logP?: Promise<WitnessLog | undefined>;
  report(r: SyncReport): void;
}

/**
 * One more strike against an authenticated session (a frame that opened under its session key and then broke
 * the protocol); cut off at maxStrikes.
 */
export function strike(
  h: HubCore,
  s: Session,
  code: string,
  message: string,
  extra: { peer?: string; eventId?: string } = {}
): void {
  h.report({ type: 'rejected', conn: s.hex, code, message, peer: s.peer, ...extra });
  if (++s.strikes >= (h.o.maxStrikes ?? 3)) {
    h.blocked.add(s.hex);
    s.dead = true;
    stopWitness(s);
    h.report({
      type: 'disconnected',
      conn: s.hex,
      peer: s.peer,
      reason: `${SyncCode.PEER_DISCONNECTED}: ${s.strikes} invalid messages`
    });
  }
}

/**
 * A frame that does not authenticate (or whose sender cannot be told): dropped and counted against no one, since
 * its cleartext `from` may name anyone. Reported, up to MAX_DROPPED_REPORTS per hub.
 */
export function drop(h: HubCore, conn: string, code: string, message: string): void {
  h.idle = true;
  if (++h.dropped <= MAX_DROPPED_REPORTS)
    h.report({ type: 'rejected', conn, code, message: `${message} (dropped: it may be forged)` });
}

export async function onHello(
  h: HubCore,
  conn: ConnId,
  hex: string,
  header: Uint8Array,
  nonce: Uint8Array,
  ct: Uint8Array,
  directed: boolean
): Promise<void> {
  const plain = await open(h.helloKey, nonce, ct, concatBytes(header, nonce));
  const hello = plain && parseHello(plain);
  if (!hello) return drop(h, hex, SyncCode.FRAME_INVALID, "a greeting that does not open with this room's team key");
  const known = h.sessions.get(hex);
  if (known) {
    // A repeated greeting must be the same one (the broadcast and the reply to ours cross). Any holder of the
    // team key can seal a greeting naming any connection: a different one is dropped, held against no one.
    if (known.hello && concatBytes(known.hello.bytes).join() !== hello.bytes.join()) {
      drop(h, hex, SyncCode.PROTOCOL, 'a second, different greeting for one connection');
    }
    return;
  }
  if (h.sessions.size >= MAX_PENDING) {
    for (const [k, s] of h.sessions) if (!s.authed || s.dead) h.sessions.delete(k);
    if (h.sessions.size >= MAX_PENDING) return;
  }
  const keys = await sessionKeys(h.o.team, h.o.room, { conn: h.conn, local: h.local }, { conn, hello });
  if (!keys) return drop(h, hex, SyncCode.AUTH_FAILED, 'a greeting with an unusable key exchange value');
  const s: Session = {
    conn,
    hex,
    hello,
    keys,
    authed: false,
    sendSeq: 0n,
    recvSeq: 0n,
    out: Promise.resolve(),
    fragments: [],
    fragmentBytes: 0,
    syncState: A.initSyncState(),
    strikes: 0,
    dead: false,
    lastActivity: Date.now(),
    sent: 0,
    received: 0,
    bytesSent: 0,
    witnessMaking: false,
    witnessAgain: false,
    witnessTokens: WITNESS_BURST,
    witnessRefilled: Date.now(),
    headSent: 0
  };
  h.sessions.set(hex, s);
  if (!directed) await sendHello(h, conn);
  const sig = await signAuth(h.o.signer, keys.th, h.conn);
  sendSealed(h, s, concatBytes(new Uint8Array([MSG_AUTH]), sig));
}

export async function sendHello(h: HubCore, to: ConnId): Promise<void> {
  const header = frameHeader(KIND_HELLO, h.conn, to, 0n);
  const nonce = randomBytes(12);
  const ct = await seal(h.helloKey, nonce, h.local.hello.bytes, concatBytes(header, nonce));
  if (!h.closed) h.o.transport.send(concatBytes(header, nonce, ct));
}

/** Seals and sends one message; frames of a session go out in sequence order. */
export function sendSealed(h: HubCore, s: Session, plain: Uint8Array): Promise<void> {
  s.out = s.out.then(async () => {
    if (s.dead || h.closed) return;
    const seq = s.sendSeq++;
    const header = frameHeader(KIND_SEALED, h.conn, s.conn, seq);
    const ct = await seal(s.keys!.send, counterNonce(seq), plain, header);
    const frame = concatBytes(header, ct);
    s.bytesSent += frame.length;
    h.lastActivity = Date.now();
    h.o.transport.send(frame);
  });
  return s.out;
}

/** The first message of a session, the peer's membership proof: checked against the roster before anything else. */
export async function onAuth(h: HubCore, s: Session, m: Uint8Array): Promise<void> {
  const type = m[0];
  if (type !== MSG_AUTH || m.length !== 65) return strike(h, s, SyncCode.PROTOCOL, 'data before the membership proof');
  const key = s.hello!.deviceKey;
  if (!(await checkAuth(key, s.keys!.th, s.conn, m.subarray(1)))) {
    return strike(h, s, SyncCode.AUTH_FAILED, 'the membership proof does not verify', { peer: key });
  }
  const member = h.o.ledger.member(key);
  if (!member || !member.active) {
    const code = member ? SyncCode.PEER_REMOVED : SyncCode.PEER_NOT_MEMBER;
    h.report({
      type: 'rejected',
      conn: s.hex,
      peer: key,
      code,
      message: member ? `device of ${member.name} was removed from the team` : 'a device key that is not in the roster'
    });
    // It proved it holds the removed key: tell it, with the removal event as the proof.
    const notice = member && removalNotice(h.o.ledger, key);
    if (notice) await sendSealed(h, s, concatBytes(new Uint8Array([MSG_REMOVED]), utf8(notice)));
    s.dead = true;
    h.blocked.add(s.hex);
    h.report({ type: 'disconnected', conn: s.hex, peer: key, reason: code });
    return;
  }
  s.authed = true;
  s.peer = key as PublicKey;
  s.heads = new PeerHeads(h.o.ledger.id, key);
  s.keyId = await keyFingerprint(s.peer);
  h.report({ type: 'peer', conn: s.hex, peer: key, name: member.name });
  const stored = await h.o.storage.load(['sync', s.keyId]);
  if (stored) {
    try {
      s.syncState = A.decodeSyncState(stored);
    } catch {
      s.syncState = A.initSyncState();
    }
  }
  await offerTeamKey(h, s);
  return pump(h, s);
}
