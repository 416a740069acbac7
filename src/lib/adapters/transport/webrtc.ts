/**
 * Transport over WebRTC data channels: a full mesh between the devices of a team, with the relay used only
 * for signaling (offers and answers). Works on a LAN with no STUN or TURN: host candidates only.
 *
 *   - Signaling messages are JSON sealed with a key derived from the team key (AES-GCM, random nonce, the
 *     sending time inside): the relay, which sees the signaling room, learns nothing, cannot forge an offer,
 *     and stale messages (over SIGNAL_MAX_AGE_MS) are dropped. `sealedSignaling` wraps any Transport.
 *   - Each mesh has a random id. A newcomer announces itself; whoever hears a broadcast announce answers with
 *     a directed one, and of each pair the smaller id makes the offer (no glare). Offers and answers carry the
 *     complete SDP (candidates gathered first, no trickle).
 *   - Frames are the SyncHub's sealed frames: split into chunks the data channel can carry and joined again;
 *     a frame addressed to one connection goes only to the channel that connection's frames came from. The
 *     last broadcast greeting of the local hub is sent again on every channel that opens, so hubs that
 *     started before the channel existed still meet.
 *
 * RTCPeerConnection exists in pages, not in workers: the app runs the mesh on the page and bridges frames
 * and signaling to the worker's SyncHub (engine/team-bridge.ts).
 */
import type { Transport } from '../../core/sync/transport.ts';
import type { TeamKey } from '../../core/team/teamkey.ts';
import { BROADCAST, HEADER_LEN, KIND_HELLO, MAX_FRAME, connHex, frameTarget } from '../../core/sync/frame.ts';
import { aeadKey, hkdf, open, randomBytes, seal, type AeadKey } from '../../core/sync/crypto.ts';
import { deriveRoomKey, type RoomKey } from '../../core/sync/room.ts';
import { concatBytes, fromUtf8, toHex, utf8 } from '../../core/bytes.ts';

export type SignalType = 'announce' | 'offer' | 'answer' | 'bye';

export interface SignalMessage {
  type: SignalType;
  from: string;
  /** The addressed mesh, or absent for everyone in the signaling room. */
  to?: string;
  sdp?: string;
}

export interface Signaling {
  send(msg: SignalMessage): void;
  onMessage(handler: (msg: SignalMessage) => void): void;
  close(): void;
}

const MESH_ID = /^[0-9a-f]{32}$/;
const MAX_SDP = 64 * 1024;
export const SIGNAL_MAX_AGE_MS = 60_000;

/** Checks a signaling message field by field (it came from the network, or across a MessagePort). */
export function parseSignal(v: unknown): SignalMessage | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  if (m.type !== 'announce' && m.type !== 'offer' && m.type !== 'answer' && m.type !== 'bye') return undefined;
  if (typeof m.from !== 'string' || !MESH_ID.test(m.from)) return undefined;
  if (m.to !== undefined && (typeof m.to !== 'string' || !MESH_ID.test(m.to))) return undefined;
  if (
    (m.type === 'offer' || m.type === 'answer') &&
    (typeof m.sdp !== 'string' || m.sdp.length > MAX_SDP || m.to === undefined)
  )
    return undefined;
  return {
    type: m.type,
    from: m.from,
    ...(m.to ? { to: m.to } : {}),
    ...(typeof m.sdp === 'string' ? { sdp: m.sdp } : {})
  };
}

/** The relay room of the signaling for a team key's epoch (never the sync room): a room key from the team key. */
export function signalRoomKey(team: TeamKey): Promise<RoomKey> {
  return deriveRoomKey(team.key, 'provenance-ledger/signal-room-key', `epoch ${team.epoch}`);
}

export async function signalRoom(team: TeamKey): Promise<string> {
  return (await signalRoomKey(team)).id;
}

async function signalKey(team: TeamKey): Promise<AeadKey> {
  return aeadKey(await hkdf(team.key, utf8('provenance-ledger/signal-key'), `epoch ${team.epoch}`));
}

const AAD = utf8('provenance-ledger/signal/v1');

/** Signaling over a transport (the relay's signaling room), every message sealed with the team key. */
export async function sealedSignaling(
  transport: Transport,
  team: TeamKey,
  now: () => number = Date.now
): Promise<Signaling> {
  const key = await signalKey(team);
  let handler: (m: SignalMessage) => void = () => {};
  let chain = Promise.resolve();
  transport.onFrame((f) => {
    chain = chain
      .then(async () => {
        if (f.length < 12 + 16 || f.length > MAX_SDP * 2) return;
        const plain = await open(key, f.subarray(0, 12), f.subarray(12), AAD);
        if (!plain) return; // not sealed with this team's key: ignored
        const o = JSON.parse(fromUtf8(plain)) as { at?: unknown; msg?: unknown };
        if (typeof o.at !== 'number' || Math.abs(now() - o.at) > SIGNAL_MAX_AGE_MS) return;
        const m = parseSignal(o.msg);
        if (m) handler(m);
      })
      .catch(() => undefined);
  });
  return {
    send(msg) {
      chain = chain.then(async () => {
        const nonce = randomBytes(12);
        transport.send(concatBytes(nonce, await seal(key, nonce, utf8(JSON.stringify({ at: now(), msg })), AAD)));
      });
    },
    onMessage: (h) => (handler = h),
    close: () => transport.close()
  };
}

/** Largest piece of a frame sent as one data channel message (Chromium accepts 256 KiB). */
const CHUNK = 64 * 1024;
const HIGH_WATER = 1024 * 1024;
const GATHER_TIMEOUT_MS = 5_000;

interface Peer {
  id: string;
  pc: RTCPeerConnection;
  dc?: RTCDataChannel;
  open: boolean;
  /** Connection ids (hex) whose frames arrived over this peer's channel. */
  conns: Set<string>;
  parts: Uint8Array[];
  partBytes: number;
  queue: Uint8Array[];
}

export interface MeshOptions {
  /** RTCPeerConnection (default: the global one). */
  RTCPeerConnection?: typeof RTCPeerConnection;
  /** ICE servers: none by default (LAN, host candidates). */
  iceServers?: RTCIceServer[];
  /** Told whenever a data channel opens or closes, with the ids of the peers open now. */
  onPeers?: (open: string[]) => void;
}

export class WebRtcMesh implements Transport {
  readonly id = toHex(randomBytes(16));
  #sig: Signaling;
  #o: MeshOptions;
  #peers = new Map<string, Peer>();
  #onFrame: (f: Uint8Array) => void = () => {};
  #onClose: (r: string) => void = () => {};
  #hello?: Uint8Array;
  #closed = false;

  constructor(signaling: Signaling, o: MeshOptions = {}) {
    this.#sig = signaling;
    this.#o = o;
    signaling.onMessage((m) => void this.#onSignal(m).catch(() => undefined));
  }

  /** Announces this mesh in the signaling room (call once handlers are set). */
  start(): void {
    this.#sig.send({ type: 'announce', from: this.id });
  }

  openPeers(): string[] {
    return [...this.#peers.values()].filter((p) => p.open).map((p) => p.id);
  }

  send(frame: Uint8Array): void {
    if (this.#closed) return;
    if (frame.length >= HEADER_LEN && frame[1] === KIND_HELLO && connHex(frameTarget(frame)!) === connHex(BROADCAST))
      this.#hello = frame.slice();
    const target = frameTarget(frame);
    const hex = target ? connHex(target) : '';
    const routed =
      hex && hex !== connHex(BROADCAST) ? [...this.#peers.values()].filter((p) => p.open && p.conns.has(hex)) : [];
    const to = routed.length ? routed : [...this.#peers.values()].filter((p) => p.open);
    for (const p of to) this.#sendTo(p, frame);
  }

  onFrame(h: (f: Uint8Array) => void): void {
    this.#onFrame = h;
  }

  onClose(h: (r: string) => void): void {
    this.#onClose = h;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#sig.send({ type: 'bye', from: this.id });
    } catch {
      /* the signaling may be gone already */
    }
    for (const p of this.#peers.values()) this.#drop(p, false);
    this.#peers.clear();
    this.#sig.close();
    this.#onClose('closed');
  }

  async #onSignal(m: SignalMessage): Promise<void> {
    if (this.#closed || m.from === this.id || (m.to && m.to !== this.id)) return;
    const known = this.#peers.get(m.from);
    if (m.type === 'bye') {
      if (known) this.#drop(known, true);
      return;
    }
    if (m.type === 'announce') {
      if (known && (known.open || known.pc.connectionState === 'connecting' || known.pc.connectionState === 'new')) {
        if (!m.to) this.#sig.send({ type: 'announce', from: this.id, to: m.from });
        return;
      }
      if (known) this.#drop(known, false);
      if (!m.to) this.#sig.send({ type: 'announce', from: this.id, to: m.from });
      if (this.id < m.from) await this.#offer(m.from);
      return;
    }
    if (m.type === 'offer') {
      if (this.id < m.from) return; // the smaller id offers; a crossing offer from the larger one is ignored
      if (known) this.#drop(known, false);
      const p = this.#newPeer(m.from);
      await p.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp! });
      await p.pc.setLocalDescription(await p.pc.createAnswer());
      await this.#gathered(p.pc);
      this.#sig.send({ type: 'answer', from: this.id, to: m.from, sdp: p.pc.localDescription!.sdp });
      return;
    }
    if (m.type === 'answer' && known && known.pc.signalingState === 'have-local-offer') {
      await known.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp! });
    }
  }

  async #offer(to: string): Promise<void> {
    const p = this.#newPeer(to);
    this.#attach(p, p.pc.createDataChannel('provenance-ledger', { ordered: true }));
    await p.pc.setLocalDescription(await p.pc.createOffer());
    await this.#gathered(p.pc);
    this.#sig.send({ type: 'offer', from: this.id, to, sdp: p.pc.localDescription!.sdp });
  }

  #newPeer(id: string): Peer {
    const PC = this.#o.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    const pc = new PC({ iceServers: this.#o.iceServers ?? [] });
    const p: Peer = { id, pc, open: false, conns: new Set(), parts: [], partBytes: 0, queue: [] };
    this.#peers.set(id, p);
    pc.ondatachannel = (e) => this.#attach(p, e.channel);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.#drop(p, true);
    };
    return p;
  }

  /** Waits until the local description holds every candidate (no trickle), or a few seconds. */
  #gathered(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, GATHER_TIMEOUT_MS);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(t);
          resolve();
        }
      });
    });
  }

  #attach(p: Peer, dc: RTCDataChannel): void {
    p.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = HIGH_WATER / 4;
    dc.onopen = () => {
      p.open = true;
      this.#o.onPeers?.(this.openPeers());
      if (this.#hello) this.#sendTo(p, this.#hello);
    };
    dc.onclose = () => this.#drop(p, true);
    dc.onbufferedamountlow = () => this.#flush(p);
    dc.onmessage = (e) => {
      if (!(e.data instanceof ArrayBuffer) || e.data.byteLength < 1) return;
      const b = new Uint8Array(e.data);
      p.partBytes += b.length - 1;
      if (p.partBytes > MAX_FRAME) {
        // Over the frame limit: dropped here; the session layer sees the gap.
        p.parts = [];
        p.partBytes = 0;
        return;
      }
      p.parts.push(b.subarray(1));
      if (b[0] === 1) return;
      const frame = p.parts.length === 1 ? p.parts[0].slice() : concatBytes(...p.parts);
      p.parts = [];
      p.partBytes = 0;
      if (frame.length >= 18) p.conns.add(connHex(frame.subarray(2, 18)));
      this.#onFrame(frame);
    };
  }

  #sendTo(p: Peer, frame: Uint8Array): void {
    for (let i = 0; i < frame.length || i === 0; i += CHUNK) {
      const more = i + CHUNK < frame.length ? 1 : 0;
      p.queue.push(concatBytes(new Uint8Array([more]), frame.subarray(i, i + CHUNK)));
    }
    this.#flush(p);
  }

  #flush(p: Peer): void {
    const dc = p.dc;
    if (!dc || dc.readyState !== 'open') return;
    while (p.queue.length && dc.bufferedAmount < HIGH_WATER) dc.send(p.queue.shift()! as Uint8Array<ArrayBuffer>);
  }

  #drop(p: Peer, notify: boolean): void {
    if (this.#peers.get(p.id) === p) this.#peers.delete(p.id);
    const was = p.open;
    p.open = false;
    try {
      p.dc?.close();
      p.pc.close();
    } catch {
      /* already closed */
    }
    if (notify && was) this.#o.onPeers?.(this.openPeers());
  }
}
