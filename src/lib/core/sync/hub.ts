/**
 * SyncHub: this device in one room. It greets every connection (handshake.ts), proves membership, checks the
 * peer's, then runs the Automerge sync protocol with each authenticated peer over sealed frames.
 *
 * A peer's sync messages go into a shadow copy; only the new changes there reach Ledger.applyVerifiedChanges,
 * which applies them when every event counts. A refusal (with a stable code) resets the shadow and sync state and
 * ignores that peer's sync messages for the session. Only frames that open under a session's key count against
 * it; `maxStrikes` protocol breaches cut a session off. Sync state is persisted under sync/<key id>.
 *
 * Witnessing at sync (ledger-schema/README.md section 19): when sync goes quiet, a hub with a device `log` sends
 * the peer a checkpoint with a consistency proof, to be cosigned (proofs/witness-sync.ts); forks are refused.
 * Parts: hub-session.ts (sessions, strikes), hub-sync.ts, hub-team.ts (keys, removals), hub-witness.ts.
 */
import type { Ledger } from '../ledger.ts';
import type { StorageAdapter } from '../storage.ts';
import type { Signer } from '../keys.ts';
import type { EventId } from '../event.ts';
import { concatBytes } from '../bytes.ts';
import type { TeamKey } from '../team/teamkey.ts';
import type { Removal } from '../team/removal.ts';
import { open, randomBytes } from './crypto.ts';
import {
  BROADCAST,
  CONN_ID_LEN,
  HEADER_LEN,
  KIND_HELLO,
  MAX_FRAME,
  connHex,
  counterNonce,
  parseFrame,
  type ConnId
} from './frame.ts';
import { helloKey, makeHello } from './handshake.ts';
import { SyncCode } from './codes.ts';
import type { Transport } from './transport.ts';
import type { WitnessLog } from '../proofs/witness-sync.ts';
import {
  MSG_REMOVED,
  MSG_SIGNED_HEAD,
  MSG_SYNC,
  MSG_TEAM_KEY,
  MSG_WITNESS_REQUEST,
  MSG_WITNESS_RESPONSE,
  drop,
  onAuth,
  onHello,
  sendHello,
  strike,
  type HubCore,
  type Session
} from './hub-session.ts';
import { onSignedHead, onSync, pumpAll, saveStates } from './hub-sync.ts';
import { onRemoved, onTeamKey } from './hub-team.ts';
import { onWitnessRequest, onWitnessResponse, scheduleWitness, stopWitness } from './hub-witness.ts';

/** Second byte of a SYNC fragment: 1 when more fragments follow. */
const MAX_MESSAGE = 128 * 1024 * 1024;

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

export class SyncHub {
  readonly conn: ConnId = randomBytes(CONN_ID_LEN);
  /** The state the hub's parts share (hub-session.ts). */
  #h: HubCore;

  private constructor(o: SyncHubOptions) {
    this.#h = {
      o,
      conn: this.conn,
      local: undefined!,
      helloKey: undefined!,
      sessions: new Map<string, Session>(),
      blocked: new Set<string>(),
      inbox: Promise.resolve(),
      closed: false,
      saveTimer: undefined,
      lastActivity: Date.now(),
      idle: false,
      dropped: 0,
      report: (r) => o.onReport?.(r)
    };
  }

  get lastActivity(): number {
    return this.#h.lastActivity;
  }

  /** Joins the room: greets everyone, then answers each greeting. */
  static async start(o: SyncHubOptions): Promise<SyncHub> {
    const hub = new SyncHub(o);
    const h = hub.#h;
    h.local = await makeHello(o.signer, o.team.epoch);
    h.helloKey = await helloKey(o.team, o.room);
    o.transport.onFrame((f) => hub.#receive(f));
    o.transport.onClose((reason) => {
      if (h.closed) return;
      h.closed = true;
      for (const s of h.sessions.values()) stopWitness(s);
      for (const s of h.sessions.values())
        if (!s.dead) h.report({ type: 'disconnected', conn: s.hex, peer: s.peer, reason });
      h.report({ type: 'closed', conn: connHex(hub.conn), reason });
    });
    await sendHello(h, BROADCAST);
    return hub;
  }

  /** Authenticated peers: device key → connection. */
  peers(): Array<{ conn: string; peer: string; sent: number; received: number; bytesSent: number }> {
    return [...this.#h.sessions.values()]
      .filter((s) => s.authed && !s.dead)
      .map((s) => ({ conn: s.hex, peer: s.peer!, sent: s.sent, received: s.received, bytesSent: s.bytesSent }));
  }

  /**
   * True when nothing is being processed, no witnessing is due or awaiting an answer, and no peer has sent or
   * been sent anything for `ms`.
   */
  quiet(ms: number): boolean {
    if (this.#pending !== 0 || Date.now() - this.#h.lastActivity < ms) return false;
    for (const s of this.#h.sessions.values())
      if (!s.dead && (s.witnessTimer || s.witnessMaking || s.witnessOut)) return false;
    return true;
  }

  /** Tells every authenticated peer about local changes (call after appending). */
  poke(): void {
    this.#h.inbox = this.#h.inbox.then(() => pumpAll(this.#h)).catch(() => undefined);
  }

  async close(): Promise<void> {
    const h = this.#h;
    for (const s of h.sessions.values()) stopWitness(s);
    await h.inbox;
    await Promise.all([...h.sessions.values()].map((s) => s.out));
    await saveStates(h);
    h.closed = true;
    h.o.transport.close();
  }

  #pending = 0;

  #receive(frame: Uint8Array): void {
    const h = this.#h;
    if (h.closed) return;
    this.#pending++;
    h.inbox = h.inbox
      .then(() => {
        h.idle = false;
        return this.#handle(frame);
      })
      .catch((e) =>
        h.report({ type: 'rejected', conn: '?', code: SyncCode.PROTOCOL, message: `internal: ${(e as Error).message}` })
      )
      .finally(() => {
        this.#pending--;
        // Frames dropped or ignored (forged, for others, from a peer cut off or ignored) do not keep the hub busy.
        if (!h.idle) h.lastActivity = Date.now();
      });
  }

  async #handle(raw: Uint8Array): Promise<void> {
    // Frames come from the network: everything below is attacker-controlled until opened. The header (`from`,
    // `to`, `seq`) is cleartext: until a frame opens under a session key, nothing in it is held against anyone.
    if (raw.length > MAX_FRAME) {
      const from = raw.length >= HEADER_LEN ? connHex(raw.subarray(2, 18)) : '?';
      return drop(this.#h, from, SyncCode.FRAME_TOO_LARGE, `a frame of ${raw.length} bytes (limit ${MAX_FRAME})`);
    }
    const f = parseFrame(raw);
    if ('error' in f) {
      const from = raw.length >= 18 ? connHex(raw.subarray(2, 18)) : '?';
      return drop(this.#h, from, SyncCode.FRAME_INVALID, f.error);
    }
    const from = connHex(f.from);
    const to = connHex(f.to);
    if (to !== connHex(BROADCAST) && to !== connHex(this.conn)) return void (this.#h.idle = true); // for someone else
    if (from === connHex(this.conn) || this.#h.blocked.has(from)) return void (this.#h.idle = true);
    if (f.kind === KIND_HELLO)
      return onHello(this.#h, f.from, from, f.header, f.nonce!, f.ciphertext, to !== connHex(BROADCAST));
    const s = this.#h.sessions.get(from);
    if (!s?.keys)
      return drop(this.#h, from, SyncCode.FRAME_INVALID, 'a sealed frame from a connection that never greeted');
    if (s.dead) return void (this.#h.idle = true);
    const plain = await open(s.keys.recv, counterNonce(f.seq), f.ciphertext, f.header);
    if (!plain)
      return drop(this.#h, from, SyncCode.FRAME_INVALID, 'a frame that does not authenticate under the session key');
    // It opened, so the peer sealed it once; out of sequence, it was replayed or reordered on the way (by
    // whoever relays it), or frames before it were lost: the peer is not to blame, the frame is not used.
    if (f.seq < s.recvSeq)
      return drop(this.#h, from, SyncCode.FRAME_REPLAYED, `frame ${f.seq} where ${s.recvSeq} was due: replayed`);
    if (f.seq > s.recvSeq) {
      this.#h.report({
        type: 'rejected',
        conn: s.hex,
        peer: s.peer,
        code: SyncCode.FRAME_REPLAYED,
        message: `frame ${f.seq} where ${s.recvSeq} was due: frames were lost on the way`
      });
      s.dead = true;
      this.#h.blocked.add(s.hex);
      stopWitness(s);
      this.#h.report({
        type: 'disconnected',
        conn: s.hex,
        peer: s.peer,
        reason: `${SyncCode.PEER_DISCONNECTED}: frames lost on the way; the session cannot go on`
      });
      return;
    }
    s.recvSeq++;
    s.lastActivity = Date.now();
    await this.#onMessage(s, plain);
  }

  async #onMessage(s: Session, m: Uint8Array): Promise<void> {
    const type = m[0];
    if (!s.authed) return onAuth(this.#h, s, m);
    if (type === MSG_SYNC) {
      if (s.refusedOnce) return void (this.#h.idle = true); // it offered a change refused in this session: answered once, ignored since
      if (m.length < 2) return strike(this.#h, s, SyncCode.PROTOCOL, 'an empty sync fragment');
      s.fragmentBytes += m.length - 2;
      if (s.fragmentBytes > MAX_MESSAGE) {
        s.fragments = [];
        s.fragmentBytes = 0;
        return strike(this.#h, s, SyncCode.FRAME_TOO_LARGE, `a sync message over ${MAX_MESSAGE} bytes`);
      }
      s.fragments.push(m.slice(2));
      if (m[1] === 1) return;
      const msg = s.fragments.length === 1 ? s.fragments[0] : concatBytes(...s.fragments);
      s.fragments = [];
      s.fragmentBytes = 0;
      s.received++;
      scheduleWitness(this.#h, s);
      return onSync(this.#h, s, msg);
    }
    if (type === MSG_TEAM_KEY) return onTeamKey(this.#h, s, m.subarray(1));
    if (type === MSG_REMOVED) return onRemoved(this.#h, s, m.subarray(1));
    if (type === MSG_WITNESS_REQUEST) return onWitnessRequest(this.#h, s, m.subarray(1));
    if (type === MSG_WITNESS_RESPONSE) return onWitnessResponse(this.#h, s, m.subarray(1));
    if (type === MSG_SIGNED_HEAD) return onSignedHead(this.#h, s, m.subarray(1));
    return strike(this.#h, s, SyncCode.PROTOCOL, `unknown message type ${type}`);
  }
}
