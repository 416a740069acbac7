/**
 * SyncHub: this device in one room. It greets every connection it hears (handshake.ts), proves membership,
 * checks the peer's, then runs the Automerge sync protocol with each authenticated peer over sealed frames.
 *
 * Nothing a peer sends touches the real document directly: its sync messages are received into a shadow
 * copy, the changes that are new there are handed to Ledger.applyVerifiedChanges, which applies them only
 * when every event in them counts. After a refusal the shadow and the peer's sync state are reset, the peer is
 * answered once and its sync messages are ignored for the rest of the session (it would offer the change again).
 * Every refusal is reported with a stable code. A frame's cleartext header names its sender, but only a frame that
 * opens under a session's key is held against that session: one that does not authenticate is dropped (it may be
 * forged). A session whose authenticated messages break the protocol `maxStrikes` times is cut off (its frames
 * are ignored from then on). Each peer's sync state is persisted under sync/<key id>.
 *
 * Witnessing at sync (ledger-schema/README.md section 19): once sync with a peer has gone quiet (the documents
 * converged) and again after later changes, debounced, a hub given this device's log (`log`) sends the peer a
 * fresh checkpoint with a consistency proof from the last one that peer cosigned; the peer checks it
 * (proofs/witness-sync.ts, over witness.ts), cosigns it with its device key and sends the cosigned note back,
 * which is stored with the checkpoint. Every hub answers its peers' requests, log or not. A fork or rollback
 * is refused, reported and never cosigned.
 */
import * as A from '@automerge/automerge/slim';
import type { Ledger } from '../ledger.ts';
import type { StorageAdapter } from '../storage.ts';
import type { Signer } from '../keys.ts';
import { keyFingerprint, type PublicKey } from '../keys.ts';
import type { EventId } from '../event.ts';
import { concatBytes, fromHex, fromUtf8, toHex, utf8 } from '../bytes.ts';
import { decodeTeamKey, encodeTeamKey, type TeamKey } from '../team/teamkey.ts';
import { checkRemovalNotice, removalNotice, type Removal } from '../team/removal.ts';
import { open, randomBytes, seal, type AeadKey } from './crypto.ts';
import {
  BROADCAST,
  CONN_ID_LEN,
  HEADER_LEN,
  KIND_HELLO,
  KIND_SEALED,
  MAX_FRAGMENT,
  MAX_FRAME,
  connHex,
  counterNonce,
  frameHeader,
  parseFrame,
  type ConnId
} from './frame.ts';
import { checkAuth, helloKey, makeHello, parseHello, sessionKeys, signAuth, type Hello, type LocalHello, type SessionKeys } from './handshake.ts';
import { SyncCode } from './codes.ts';
import type { Transport } from './transport.ts';
import { ProofCode, isProofError } from '../proofs/errors.ts';
import { parseWitnessResponse } from '../proofs/witness.ts';
import { peerText } from '../text.ts';
import { PeerHeads } from '../proofs/signed-head.ts';
import {
  acceptCosigned,
  answerSyncWitnessRequest,
  encodeWitnessResponse,
  makeSyncWitnessRequest,
  type OutgoingWitnessRequest,
  type WitnessLog
} from '../proofs/witness-sync.ts';

/** Message types inside sealed frames (first plaintext byte). */
const MSG_AUTH = 1;
const MSG_SYNC = 2;
const MSG_TEAM_KEY = 3;
/** Witnessing at sync: a checkpoint to cosign (witness request JSON), and the answer (witness response JSON). */
const MSG_WITNESS_REQUEST = 4;
const MSG_WITNESS_RESPONSE = 5;
/** To a peer refused because it was removed: the signed removal event (core/team/removal.ts), so it knows why. */
const MSG_REMOVED = 6;
/**
 * The sender's signed tree head, sent before the sync message it precedes: uint32 BE start, uint32 BE note
 * length, the checkpoint note, then the event ids (32 raw bytes each) of its log's leaves from `start` to the
 * checkpoint's size (ledger-schema/README.md section 19, "Signed tree heads at sync").
 */
const MSG_SIGNED_HEAD = 7;
/** The most leaf ids one signed-head message carries (it fits one frame); a longer stretch is not offered. */
const MAX_HEAD_IDS = Math.floor((MAX_FRAGMENT - 1024 * 16) / 32);
/**
 * The fewest new leaves worth a signed head: below it the peer checks the few events one by one (cheaper than a
 * checkpoint signed here and checked there), and a sync of one event waits on no log.
 */
const MIN_HEAD_IDS = 64;
/** Quiet time on a session before this device asks the peer to witness its log. */
const WITNESS_DELAY_MS = 300;
/** A request the peer has not answered in this time is dropped. */
const WITNESS_TIMEOUT_MS = 15_000;
/** Witness requests a peer may send: a burst of 20, then one every 2 s. */
const WITNESS_BURST = 20;
const WITNESS_REFILL_MS = 2000;
/** Second byte of a SYNC fragment: 1 when more fragments follow. */
const MAX_MESSAGE = 128 * 1024 * 1024;
const MAX_PENDING = 64;
/** Frames dropped without a strike (they do not authenticate) reported per hub; the rest are dropped silently. */
const MAX_DROPPED_REPORTS = 20;

export type SyncReport =
  | { type: 'peer'; conn: string; peer: string; name?: string }
  /** `covered`: how many of them the peer's checked signed tree head covered (no signature check of their own). */
  | { type: 'accepted'; conn: string; peer: string; events: EventId[]; covered?: number }
  | { type: 'rejected'; conn: string; peer?: string; code: string; message: string; eventId?: string }
  | { type: 'disconnected'; conn: string; peer?: string; reason: string }
  /** The transport closed from the other side (the relay refused or dropped this connection): its reason. */
  | { type: 'closed'; conn: string; reason: string }
  | { type: 'team-key'; conn: string; peer: string; epoch: number }
  /** A peer refused this device and showed it the signed removal of its key (checked against this device's roster). */
  | { type: 'removed'; conn: string; peer: string; removal: Removal }
  /** The peer cosigned this device's checkpoint of `size` entries at `time` (POSIX seconds); it is stored. */
  | { type: 'witnessed'; conn: string; peer: string; size: number; time: number }
  /** This device checked the peer's checkpoint of `size` entries against the one it cosigned before, and cosigned it. */
  | { type: 'cosigned'; conn: string; peer: string; size: number }
  /** The peer did not answer this device's request to cosign its checkpoint of `size` entries in time (asked again at the next sync). */
  | { type: 'witness-unanswered'; conn: string; peer: string; size: number };

export interface SyncHubOptions {
  ledger: Ledger;
  /** Where per-peer sync states are kept (sync/<key id>). */
  storage: StorageAdapter;
  signer: Signer;
  team: TeamKey;
  room: string;
  transport: Transport;
  onReport?: (r: SyncReport) => void;
  /** A newer team key arrived from an owner or admin: store it. */
  onTeamKey?: (k: TeamKey) => Promise<void>;
  /** The newest team key this device holds (handed to members still on an older epoch, by owners and admins). */
  newestTeamKey?: () => TeamKey | undefined;
  maxStrikes?: number;
  /**
   * This device's Merkle log (a DeviceLog, or a function that attaches it on first use): with it, the hub asks
   * each peer to witness the log at each sync. Without it, the hub still witnesses its peers' logs (state under
   * witness/… in `storage`).
   */
  log?: WitnessLog | (() => Promise<WitnessLog>);
  /** Quiet time on a session before asking for a cosignature (default 300 ms). */
  witnessDelayMs?: number;
  /** How long a witness request waits for its answer (WITNESS_TIMEOUT_MS by default; tests shorten it). */
  witnessTimeoutMs?: number;
  /** The fewest new log leaves a signed tree head is offered for (MIN_HEAD_IDS by default; tests lower it). */
  signedHeadMin?: number;
}

interface Session {
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

export class SyncHub {
  readonly conn: ConnId = randomBytes(CONN_ID_LEN);
  #o: SyncHubOptions;
  #local!: LocalHello;
  #helloKey!: AeadKey;
  #sessions = new Map<string, Session>();
  #blocked = new Set<string>();
  #inbox: Promise<void> = Promise.resolve();
  #pending = 0;
  #closed = false;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  lastActivity = Date.now();

  private constructor(o: SyncHubOptions) {
    this.#o = o;
  }

  /** Joins the room: greets everyone, then answers each greeting. */
  static async start(o: SyncHubOptions): Promise<SyncHub> {
    const hub = new SyncHub(o);
    hub.#local = await makeHello(o.signer, o.team.epoch);
    hub.#helloKey = await helloKey(o.team, o.room);
    o.transport.onFrame((f) => hub.#receive(f));
    o.transport.onClose((reason) => {
      if (hub.#closed) return;
      hub.#closed = true;
      for (const s of hub.#sessions.values()) hub.#stopWitness(s);
      for (const s of hub.#sessions.values()) if (!s.dead) hub.#report({ type: 'disconnected', conn: s.hex, peer: s.peer, reason });
      hub.#report({ type: 'closed', conn: connHex(hub.conn), reason });
    });
    await hub.#sendHello(BROADCAST);
    return hub;
  }

  /** Authenticated peers: device key → connection. */
  peers(): Array<{ conn: string; peer: string; sent: number; received: number; bytesSent: number }> {
    return [...this.#sessions.values()]
      .filter((s) => s.authed && !s.dead)
      .map((s) => ({ conn: s.hex, peer: s.peer!, sent: s.sent, received: s.received, bytesSent: s.bytesSent }));
  }

  /**
   * True when nothing is being processed, no witnessing is due or awaiting an answer, and no peer has sent or
   * been sent anything for `ms`.
   */
  quiet(ms: number): boolean {
    if (this.#pending !== 0 || Date.now() - this.lastActivity < ms) return false;
    for (const s of this.#sessions.values()) if (!s.dead && (s.witnessTimer || s.witnessMaking || s.witnessOut)) return false;
    return true;
  }

  /** Tells every authenticated peer about local changes (call after appending). */
  poke(): void {
    this.#inbox = this.#inbox.then(() => this.#pumpAll()).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const s of this.#sessions.values()) this.#stopWitness(s);
    await this.#inbox;
    await Promise.all([...this.#sessions.values()].map((s) => s.out));
    await this.#saveStates();
    this.#closed = true;
    this.#o.transport.close();
  }

  #report(r: SyncReport): void {
    this.#o.onReport?.(r);
  }

  #receive(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#pending++;
    this.#inbox = this.#inbox
      .then(() => {
        this.#idle = false;
        return this.#handle(frame);
      })
      .catch((e) => this.#report({ type: 'rejected', conn: '?', code: SyncCode.PROTOCOL, message: `internal: ${(e as Error).message}` }))
      .finally(() => {
        this.#pending--;
        // Frames dropped or ignored (forged, for others, from a peer cut off or ignored) do not keep the hub busy.
        if (!this.#idle) this.lastActivity = Date.now();
      });
  }
  /** The frame being handled was dropped or ignored. */
  #idle = false;

  /**
   * One more strike against an authenticated session (a frame that opened under its session key and then broke
   * the protocol); cut off at maxStrikes.
   */
  #strike(s: Session, code: string, message: string, extra: { peer?: string; eventId?: string } = {}): void {
    this.#report({ type: 'rejected', conn: s.hex, code, message, peer: s.peer, ...extra });
    if (++s.strikes >= (this.#o.maxStrikes ?? 3)) {
      this.#blocked.add(s.hex);
      s.dead = true;
      this.#stopWitness(s);
      this.#report({ type: 'disconnected', conn: s.hex, peer: s.peer, reason: `${SyncCode.PEER_DISCONNECTED}: ${s.strikes} invalid messages` });
    }
  }

  /**
   * A frame that does not authenticate (or whose sender cannot be told): dropped and counted against no one, since
   * its cleartext `from` may name anyone. Reported, up to MAX_DROPPED_REPORTS per hub.
   */
  #drop(conn: string, code: string, message: string): void {
    this.#idle = true;
    if (++this.#dropped <= MAX_DROPPED_REPORTS) this.#report({ type: 'rejected', conn, code, message: `${message} (dropped: it may be forged)` });
  }
  #dropped = 0;

  async #handle(raw: Uint8Array): Promise<void> {
    // Frames come from the network: everything below is attacker-controlled until opened. The header (`from`,
    // `to`, `seq`) is cleartext: until a frame opens under a session key, nothing in it is held against anyone.
    if (raw.length > MAX_FRAME) {
      const from = raw.length >= HEADER_LEN ? connHex(raw.subarray(2, 18)) : '?';
      return this.#drop(from, SyncCode.FRAME_TOO_LARGE, `a frame of ${raw.length} bytes (limit ${MAX_FRAME})`);
    }
    const f = parseFrame(raw);
    if ('error' in f) {
      const from = raw.length >= 18 ? connHex(raw.subarray(2, 18)) : '?';
      return this.#drop(from, SyncCode.FRAME_INVALID, f.error);
    }
    const from = connHex(f.from);
    const to = connHex(f.to);
    if (to !== connHex(BROADCAST) && to !== connHex(this.conn)) return void (this.#idle = true); // for someone else
    if (from === connHex(this.conn) || this.#blocked.has(from)) return void (this.#idle = true);
    if (f.kind === KIND_HELLO) return this.#onHello(f.from, from, f.header, f.nonce!, f.ciphertext, to !== connHex(BROADCAST));
    const s = this.#sessions.get(from);
    if (!s?.keys) return this.#drop(from, SyncCode.FRAME_INVALID, 'a sealed frame from a connection that never greeted');
    if (s.dead) return void (this.#idle = true);
    const plain = await open(s.keys.recv, counterNonce(f.seq), f.ciphertext, f.header);
    if (!plain) return this.#drop(from, SyncCode.FRAME_INVALID, 'a frame that does not authenticate under the session key');
    // It opened, so the peer sealed it once; out of sequence, it was replayed or reordered on the way (by
    // whoever relays it), or frames before it were lost: the peer is not to blame, the frame is not used.
    if (f.seq < s.recvSeq) return this.#drop(from, SyncCode.FRAME_REPLAYED, `frame ${f.seq} where ${s.recvSeq} was due: replayed`);
    if (f.seq > s.recvSeq) {
      this.#report({ type: 'rejected', conn: s.hex, peer: s.peer, code: SyncCode.FRAME_REPLAYED, message: `frame ${f.seq} where ${s.recvSeq} was due: frames were lost on the way` });
      s.dead = true;
      this.#blocked.add(s.hex);
      this.#stopWitness(s);
      this.#report({ type: 'disconnected', conn: s.hex, peer: s.peer, reason: `${SyncCode.PEER_DISCONNECTED}: frames lost on the way; the session cannot go on` });
      return;
    }
    s.recvSeq++;
    s.lastActivity = Date.now();
    await this.#onMessage(s, plain);
  }

  async #onHello(conn: ConnId, hex: string, header: Uint8Array, nonce: Uint8Array, ct: Uint8Array, directed: boolean): Promise<void> {
    const plain = await open(this.#helloKey, nonce, ct, concatBytes(header, nonce));
    const hello = plain && parseHello(plain);
    if (!hello) return this.#drop(hex, SyncCode.FRAME_INVALID, 'a greeting that does not open with this room\'s team key');
    const known = this.#sessions.get(hex);
    if (known) {
      // A repeated greeting must be the same one (the broadcast and the reply to ours cross). Any holder of the
      // team key can seal a greeting naming any connection: a different one is dropped, held against no one.
      if (known.hello && concatBytes(known.hello.bytes).join() !== hello.bytes.join()) {
        this.#drop(hex, SyncCode.PROTOCOL, 'a second, different greeting for one connection');
      }
      return;
    }
    if (this.#sessions.size >= MAX_PENDING) {
      for (const [k, s] of this.#sessions) if (!s.authed || s.dead) (this.#sessions.delete(k), undefined);
      if (this.#sessions.size >= MAX_PENDING) return;
    }
    const keys = await sessionKeys(this.#o.team, this.#o.room, { conn: this.conn, local: this.#local }, { conn, hello });
    if (!keys) return this.#drop(hex, SyncCode.AUTH_FAILED, 'a greeting with an unusable key exchange value');
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
    this.#sessions.set(hex, s);
    if (!directed) await this.#sendHello(conn);
    const sig = await signAuth(this.#o.signer, keys.th, this.conn);
    this.#sendSealed(s, concatBytes(new Uint8Array([MSG_AUTH]), sig));
  }

  async #sendHello(to: ConnId): Promise<void> {
    const header = frameHeader(KIND_HELLO, this.conn, to, 0n);
    const nonce = randomBytes(12);
    const ct = await seal(this.#helloKey, nonce, this.#local.hello.bytes, concatBytes(header, nonce));
    if (!this.#closed) this.#o.transport.send(concatBytes(header, nonce, ct));
  }

  /** Seals and sends one message; frames of a session go out in sequence order. */
  #sendSealed(s: Session, plain: Uint8Array): Promise<void> {
    s.out = s.out.then(async () => {
      if (s.dead || this.#closed) return;
      const seq = s.sendSeq++;
      const header = frameHeader(KIND_SEALED, this.conn, s.conn, seq);
      const ct = await seal(s.keys!.send, counterNonce(seq), plain, header);
      const frame = concatBytes(header, ct);
      s.bytesSent += frame.length;
      this.lastActivity = Date.now();
      this.#o.transport.send(frame);
    });
    return s.out;
  }

  async #onMessage(s: Session, m: Uint8Array): Promise<void> {
    const type = m[0];
    if (!s.authed) {
      if (type !== MSG_AUTH || m.length !== 65) return this.#strike(s, SyncCode.PROTOCOL, 'data before the membership proof');
      const key = s.hello!.deviceKey;
      if (!(await checkAuth(key, s.keys!.th, s.conn, m.subarray(1)))) {
        return this.#strike(s, SyncCode.AUTH_FAILED, 'the membership proof does not verify', { peer: key });
      }
      const member = this.#o.ledger.member(key);
      if (!member || !member.active) {
        const code = member ? SyncCode.PEER_REMOVED : SyncCode.PEER_NOT_MEMBER;
        this.#report({ type: 'rejected', conn: s.hex, peer: key, code, message: member ? `device of ${member.name} was removed from the team` : 'a device key that is not in the roster' });
        // It proved it holds the removed key: tell it, with the removal event as the proof.
        const notice = member && removalNotice(this.#o.ledger, key);
        if (notice) await this.#sendSealed(s, concatBytes(new Uint8Array([MSG_REMOVED]), utf8(notice)));
        s.dead = true;
        this.#blocked.add(s.hex);
        this.#report({ type: 'disconnected', conn: s.hex, peer: key, reason: code });
        return;
      }
      s.authed = true;
      s.peer = key as PublicKey;
      s.heads = new PeerHeads(this.#o.ledger.id, key);
      s.keyId = await keyFingerprint(s.peer);
      this.#report({ type: 'peer', conn: s.hex, peer: key, name: member.name });
      const stored = await this.#o.storage.load(['sync', s.keyId]);
      if (stored) {
        try {
          s.syncState = A.decodeSyncState(stored);
        } catch {
          s.syncState = A.initSyncState();
        }
      }
      await this.#offerTeamKey(s);
      return this.#pump(s);
    }
    if (type === MSG_SYNC) {
      if (s.refusedOnce) return void (this.#idle = true); // it offered a change refused in this session: answered once, ignored since
      if (m.length < 2) return this.#strike(s, SyncCode.PROTOCOL, 'an empty sync fragment');
      s.fragmentBytes += m.length - 2;
      if (s.fragmentBytes > MAX_MESSAGE) {
        s.fragments = [];
        s.fragmentBytes = 0;
        return this.#strike(s, SyncCode.FRAME_TOO_LARGE, `a sync message over ${MAX_MESSAGE} bytes`);
      }
      s.fragments.push(m.slice(2));
      if (m[1] === 1) return;
      const msg = s.fragments.length === 1 ? s.fragments[0] : concatBytes(...s.fragments);
      s.fragments = [];
      s.fragmentBytes = 0;
      s.received++;
      this.#scheduleWitness(s);
      return this.#onSync(s, msg);
    }
    if (type === MSG_TEAM_KEY) return this.#onTeamKey(s, m.subarray(1));
    if (type === MSG_REMOVED) return this.#onRemoved(s, m.subarray(1));
    if (type === MSG_WITNESS_REQUEST) return this.#onWitnessRequest(s, m.subarray(1));
    if (type === MSG_WITNESS_RESPONSE) return this.#onWitnessResponse(s, m.subarray(1));
    if (type === MSG_SIGNED_HEAD) return this.#onSignedHead(s, m.subarray(1));
    return this.#strike(s, SyncCode.PROTOCOL, `unknown message type ${type}`);
  }

  async #onSync(s: Session, msg: Uint8Array): Promise<void> {
    const ledger = this.#o.ledger;
    let shadow = s.shadow ?? A.clone(ledger.doc as A.Doc<unknown>);
    if (!A.hasHeads(shadow, A.getHeads(ledger.doc))) shadow = A.merge(shadow, ledger.doc as A.Doc<unknown>);
    let next: A.Doc<unknown>;
    let state: A.SyncState;
    try {
      A.decodeSyncMessage(msg);
      [next, state] = A.receiveSyncMessage(shadow, s.syncState, msg);
    } catch (e) {
      s.shadow = undefined;
      s.syncState = A.initSyncState();
      this.#strike(s, SyncCode.SYNC_MALFORMED, `not an Automerge sync message: ${(e as Error).message}`);
      return this.#pump(s);
    }
    const changes = A.getChanges(shadow, next);
    if (changes.length > 0) {
      const r = await ledger.applyVerifiedChanges(changes, { heads: s.heads });
      if (r.accepted.length) this.#report({ type: 'accepted', conn: s.hex, peer: s.peer!, events: r.accepted, ...(r.covered ? { covered: r.covered } : {}) });
      if (r.rejected.length) {
        for (const p of r.problems) this.#report({ type: 'rejected', conn: s.hex, peer: s.peer, code: p.code, message: p.message, eventId: p.eventId });
        const first = r.rejected[0];
        this.#strike(s, first.code, `${r.rejected.length} change(s) refused: ${first.message}; the peer's sync messages are ignored for the rest of this session`);
        // The peer holds a change this device will never take, so the two documents cannot converge in this
        // session: Automerge would offer it again and again. The peer is answered once (this device's heads, from
        // a fresh sync state) and its sync messages are ignored from now on; the next session tries again.
        s.shadow = undefined;
        s.syncState = A.initSyncState();
        s.refusedOnce = true;
        if (r.accepted.length) return this.#pumpAll();
        return this.#pump(s);
      }
      if (r.accepted.length) {
        s.shadow = next;
        s.syncState = state;
        this.#scheduleSave();
        return this.#pumpAll();
      }
    }
    s.shadow = next;
    s.syncState = state;
    this.#scheduleSave();
    return this.#pump(s);
  }

  async #pumpAll(): Promise<void> {
    for (const s of this.#sessions.values()) if (s.authed && !s.dead) await this.#pump(s);
  }

  /** Sends whatever the sync protocol has to say to this peer (from the real document only). */
  async #pump(s: Session): Promise<void> {
    if (s.dead || this.#closed) return;
    await this.#offerHead(s);
    if (s.dead || this.#closed) return;
    const [state, msg] = A.generateSyncMessage(this.#o.ledger.doc, s.syncState);
    s.syncState = state;
    if (!msg) return;
    s.sent++;
    this.#scheduleWitness(s);
    for (let i = 0; i < msg.length || i === 0; i += MAX_FRAGMENT) {
      const part = msg.subarray(i, i + MAX_FRAGMENT);
      const more = i + MAX_FRAGMENT < msg.length ? 1 : 0;
      void this.#sendSealed(s, concatBytes(new Uint8Array([MSG_SYNC, more]), part));
    }
  }

  /**
   * Sends the peer this device's signed tree head when its log has grown by MIN_HEAD_IDS leaves or more since the
   * last one sent in this session (signing a checkpoint of the log's size unless one is stored), with the leaf ids
   * the peer has not been sent.
   * The peer's receipt of this device's events under it then checks one signature instead of one per event.
   */
  async #offerHead(s: Session): Promise<void> {
    const log = await this.#witnessLog();
    if (!log?.eventIdAt || !s.authed || log.size - s.headSent < (this.#o.signedHeadMin ?? MIN_HEAD_IDS)) return;
    const start = s.headSent;
    let note: string;
    try {
      note = await log.checkpoint(this.#o.ledger.id, this.#o.signer);
    } catch {
      return; // a log that cannot sign offers nothing; its events are checked one by one
    }
    const size = Number(note.split('\n', 2)[1]);
    if (!Number.isSafeInteger(size) || size <= start || size - start > MAX_HEAD_IDS || size > log.size) return;
    const text = utf8(note);
    const out = new Uint8Array(1 + 8 + text.length + 32 * (size - start));
    out[0] = MSG_SIGNED_HEAD;
    const view = new DataView(out.buffer);
    view.setUint32(1, start);
    view.setUint32(5, text.length);
    out.set(text, 9);
    for (let i = start, o = 9 + text.length; i < size; i++, o += 32) out.set(fromHex(log.eventIdAt(i)), o);
    s.headSent = size;
    await this.#sendSealed(s, out);
  }

  /** A peer's signed tree head: kept for its next sync message (checked there, against what arrives). */
  #onSignedHead(s: Session, b: Uint8Array): void {
    if (b.length < 8) return this.#strike(s, SyncCode.PROTOCOL, 'a signed tree head message too short');
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const start = view.getUint32(0);
    const len = view.getUint32(4);
    if (8 + len > b.length || (b.length - 8 - len) % 32 !== 0) return this.#strike(s, SyncCode.PROTOCOL, 'a malformed signed tree head message');
    let note: string;
    try {
      note = fromUtf8(b.subarray(8, 8 + len));
    } catch {
      return this.#strike(s, SyncCode.PROTOCOL, 'a signed tree head whose note is not UTF-8');
    }
    const ids: string[] = [];
    for (let o = 8 + len; o < b.length; o += 32) ids.push(toHex(b.subarray(o, o + 32)));
    // One that does not continue the head checked before covers nothing (its events are checked one by one).
    s.heads?.offer(start, ids, note);
  }

  async #offerTeamKey(s: Session): Promise<void> {
    const newest = this.#o.newestTeamKey?.();
    const me = this.#o.ledger.member(this.#o.signer.publicKey);
    if (!newest || newest.epoch <= s.hello!.epoch || !me?.active || (me.role !== 'owner' && me.role !== 'admin')) return;
    await this.#sendSealed(s, concatBytes(new Uint8Array([MSG_TEAM_KEY]), encodeTeamKey(newest)));
    this.#report({ type: 'team-key', conn: s.hex, peer: s.peer!, epoch: newest.epoch });
  }

  async #onTeamKey(s: Session, b: Uint8Array): Promise<void> {
    const k = decodeTeamKey(b);
    const sender = this.#o.ledger.member(s.peer!);
    if (!k || !sender?.active || (sender.role !== 'owner' && sender.role !== 'admin')) {
      return this.#strike(s, SyncCode.TEAM_KEY_REFUSED, 'a team key from a peer that may not issue one');
    }
    const newest = this.#o.newestTeamKey?.();
    if (newest && k.epoch <= newest.epoch) return;
    await this.#o.onTeamKey?.(k);
    this.#report({ type: 'team-key', conn: s.hex, peer: s.peer!, epoch: k.epoch });
  }

  /** A removal notice: believed only when it is a valid removal of this device's key by an owner or admin of this roster. */
  async #onRemoved(s: Session, b: Uint8Array): Promise<void> {
    let json: string;
    try {
      json = fromUtf8(b);
    } catch {
      json = '';
    }
    const removal = await checkRemovalNotice(this.#o.ledger, json, this.#o.signer.publicKey);
    if (!removal) return this.#strike(s, SyncCode.PROTOCOL, 'a removal notice that is not a valid removal of this device');
    this.#report({ type: 'removed', conn: s.hex, peer: s.peer!, removal });
  }

  // ------------------------------------------------------------------------------------------------ witnessing

  #logP?: Promise<WitnessLog | undefined>;

  /** This device's log (attached on first use when given as a function); undefined without one. */
  #witnessLog(): Promise<WitnessLog | undefined> {
    const l = this.#o.log;
    if (!l) return Promise.resolve(undefined);
    if (typeof l !== 'function') return Promise.resolve(l);
    this.#logP ??= l().catch((e) => {
      this.#logP = undefined;
      this.#report({ type: 'rejected', conn: '?', code: isProofError(e) ? e.code : ProofCode.LOG_CORRUPT, message: `this device's log cannot be opened for witnessing: ${(e as Error).message}` });
      return undefined;
    });
    return this.#logP;
  }

  #peerName(s: Session): string {
    return this.#o.ledger.member(s.peer!)?.name ?? `${s.peer!.slice(0, 12)}…`;
  }

  /** (Re)starts the debounce: once the session has been quiet for the delay, ask the peer to witness the log. */
  #scheduleWitness(s: Session): void {
    if (!this.#o.log || s.dead || this.#closed || !s.authed) return;
    if (s.witnessMaking || s.witnessOut) {
      s.witnessAgain = true;
      return;
    }
    if (s.witnessTimer) clearTimeout(s.witnessTimer);
    s.witnessTimer = setTimeout(() => {
      s.witnessTimer = undefined;
      s.witnessMaking = true;
      this.#inbox = this.#inbox
        .then(() => this.#requestWitness(s))
        .catch((e) => this.#report({ type: 'rejected', conn: s.hex, peer: s.peer, code: isProofError(e) ? e.code : SyncCode.PROTOCOL, message: `witnessing: ${(e as Error).message}` }))
        .finally(() => {
          s.witnessMaking = false;
          if (!s.witnessOut) this.#witnessDone(s);
        });
    }, this.#o.witnessDelayMs ?? WITNESS_DELAY_MS);
  }

  #stopWitness(s: Session): void {
    if (s.witnessTimer) clearTimeout(s.witnessTimer);
    if (s.witnessOut) clearTimeout(s.witnessOut.timer);
    s.witnessTimer = undefined;
    s.witnessOut = undefined;
    s.witnessAgain = false;
  }

  /** An exchange ended: run again if the log grew meanwhile. */
  #witnessDone(s: Session): void {
    if (!s.witnessAgain) return;
    s.witnessAgain = false;
    this.#scheduleWitness(s);
  }

  /** Sends the peer a checkpoint of this device's log to cosign (when it lacks that peer's cosignature). */
  async #requestWitness(s: Session, from?: number): Promise<void> {
    if (s.dead || this.#closed) return;
    const log = await this.#witnessLog();
    if (!log) return;
    const req = await makeSyncWitnessRequest({ ledgerId: this.#o.ledger.id, log, signer: this.#o.signer, witnessKey: s.peer!, from });
    if (!req || s.dead || this.#closed) return;
    const timer = setTimeout(() => {
      if (s.witnessOut?.timer !== timer) return;
      s.witnessOut = undefined;
      if (!s.dead && !this.#closed) this.#report({ type: 'witness-unanswered', conn: s.hex, peer: s.peer!, size: req.size });
      this.#witnessDone(s);
    }, this.#o.witnessTimeoutMs ?? WITNESS_TIMEOUT_MS);
    s.witnessOut = { req, retried: from !== undefined, timer };
    await this.#sendSealed(s, concatBytes(new Uint8Array([MSG_WITNESS_REQUEST]), req.bytes));
  }

  /** The witness side: check the peer's checkpoint, cosign it or refuse it, and answer. */
  async #onWitnessRequest(s: Session, body: Uint8Array): Promise<void> {
    const now = Date.now();
    s.witnessTokens = Math.min(WITNESS_BURST, s.witnessTokens + (now - s.witnessRefilled) / WITNESS_REFILL_MS);
    s.witnessRefilled = now;
    if (s.witnessTokens < 1) {
      return this.#strike(s, SyncCode.PROTOCOL, `witness requests faster than one every ${WITNESS_REFILL_MS / 1000} s`);
    }
    s.witnessTokens -= 1;
    const a = await answerSyncWitnessRequest({
      ledgerId: this.#o.ledger.id,
      storage: this.#o.storage,
      signer: this.#o.signer,
      peerKey: s.peer!,
      peerActive: !!this.#o.ledger.member(s.peer!)?.active,
      bytes: body
    });
    if (a.response) await this.#sendSealed(s, concatBytes(new Uint8Array([MSG_WITNESS_RESPONSE]), encodeWitnessResponse(a.response)));
    if (a.outcome === 'cosigned') return this.#report({ type: 'cosigned', conn: s.hex, peer: s.peer!, size: a.size! });
    if (a.outcome !== 'refused') return;
    const e = a.error!;
    const message = `not cosigned: ${this.#peerName(s)}'s checkpoint${a.size ? ` of size ${a.size}` : ''}: ${e.message}${e.evidence ? ` (both signed checkpoints are kept under ${e.evidence})` : ''}`;
    if (a.hostile) return this.#strike(s, e.code, message);
    this.#report({ type: 'rejected', conn: s.hex, peer: s.peer, code: e.code, message });
  }

  /** The log side: the peer's answer to this device's request. */
  async #onWitnessResponse(s: Session, body: Uint8Array): Promise<void> {
    let r;
    try {
      r = parseWitnessResponse(body);
    } catch (e) {
      return this.#strike(s, ProofCode.WITNESS_RESPONSE_INVALID, (e as Error).message);
    }
    const out = s.witnessOut;
    if (!out || r.size !== out.req.size) {
      return this.#strike(s, SyncCode.PROTOCOL, `a witness response for a checkpoint of size ${r.size}, which this device did not ask to be cosigned`);
    }
    clearTimeout(out.timer);
    s.witnessOut = undefined;
    try {
      if ('need' in r) {
        if (!out.retried) return await this.#requestWitness(s, r.need);
        return this.#report({ type: 'rejected', conn: s.hex, peer: s.peer, code: ProofCode.WITNESS_REFUSED, message: `${this.#peerName(s)} asked again for a consistency proof (from size ${r.need}): not cosigned` });
      }
      if ('refused' in r) {
        return this.#report({
          type: 'rejected',
          conn: s.hex,
          peer: s.peer,
          code: ProofCode.WITNESS_REFUSED,
          message: `${this.#peerName(s)} refused to cosign this device's checkpoint of size ${r.size}: [${r.refused.code}] ${peerText(r.refused.message)}`
        });
      }
      const log = await this.#witnessLog();
      if (!log) return;
      try {
        const c = await acceptCosigned({ ledgerId: this.#o.ledger.id, log, logKey: this.#o.signer.publicKey, witnessKey: s.peer!, sent: out.req, note: r.cosigned });
        this.#report({ type: 'witnessed', conn: s.hex, peer: s.peer!, size: c.size, time: c.timestamp });
      } catch (e) {
        if (!isProofError(e, ProofCode.WITNESS_RESPONSE_INVALID)) throw e;
        this.#strike(s, e.code, e.message);
      }
    } finally {
      if (!s.witnessOut && !s.witnessMaking) this.#witnessDone(s);
    }
  }

  #scheduleSave(): void {
    if (this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#saveStates().catch(() => undefined);
    }, 200);
  }

  async #saveStates(): Promise<void> {
    if (this.#saveTimer) (clearTimeout(this.#saveTimer), (this.#saveTimer = undefined));
    for (const s of this.#sessions.values()) {
      if (s.authed && s.keyId) await this.#o.storage.save(['sync', s.keyId], A.encodeSyncState(s.syncState));
    }
  }
}
