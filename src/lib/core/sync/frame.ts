/**
 * The wire format of one frame. Everything but the header is AES-256-GCM ciphertext; the header is the
 * associated data, so it cannot be altered either.
 *
 *   0      version (1)
 *   1      kind: 1 HELLO (sealed with the room's hello key, random nonce) | 2 SEALED (a session's key, counter nonce)
 *   2..18  from: the sender's connection id (16 random bytes, new at every connection; says nothing of who)
 *   18..34 to: the addressed connection id, or 16 zero bytes for everyone in the room
 *   34..42 seq: unsigned 64-bit big-endian counter (SEALED: must be exactly one more than the last; HELLO: 0)
 *   42..54 nonce (HELLO only): 12 random bytes
 *   ...    ciphertext + 16-byte tag
 *
 * Frames come from the network: parseFrame checks lengths before reading anything.
 */
export const FRAME_VERSION = 1;
export const KIND_HELLO = 1;
export const KIND_SEALED = 2;
export const HEADER_LEN = 42;
export const HELLO_NONCE_LEN = 12;
export const TAG_LEN = 16;
export const CONN_ID_LEN = 16;
/** Largest frame a peer sends or accepts (the relay enforces the same bound). */
export const MAX_FRAME = 1024 * 1024;
/** Largest plaintext per frame: messages beyond it are split into fragments. */
export const MAX_FRAGMENT = MAX_FRAME - HEADER_LEN - TAG_LEN - 64;

export type ConnId = Uint8Array & { readonly __connId?: true };
export const BROADCAST: ConnId = new Uint8Array(CONN_ID_LEN);

export interface FrameHeader {
  kind: number;
  from: ConnId;
  to: ConnId;
  seq: bigint;
  /** The exact header bytes (the associated data). */
  header: Uint8Array;
}

export interface ParsedFrame extends FrameHeader {
  nonce?: Uint8Array;
  ciphertext: Uint8Array;
}

export function frameHeader(kind: number, from: ConnId, to: ConnId, seq: bigint): Uint8Array {
  const h = new Uint8Array(HEADER_LEN);
  h[0] = FRAME_VERSION;
  h[1] = kind;
  h.set(from, 2);
  h.set(to, 18);
  new DataView(h.buffer).setBigUint64(34, seq);
  return h;
}

/** Why a frame cannot be read, or the frame. */
export function parseFrame(f: Uint8Array): ParsedFrame | { error: string } {
  if (!(f instanceof Uint8Array)) return { error: 'not bytes' };
  if (f.length > MAX_FRAME) return { error: `frame of ${f.length} bytes is over the ${MAX_FRAME}-byte limit` };
  if (f.length < HEADER_LEN + TAG_LEN) return { error: `frame of ${f.length} bytes is too short` };
  if (f[0] !== FRAME_VERSION) return { error: `unknown frame version ${f[0]}` };
  const kind = f[1];
  if (kind !== KIND_HELLO && kind !== KIND_SEALED) return { error: `unknown frame kind ${kind}` };
  const header = f.subarray(0, HEADER_LEN);
  const seq = new DataView(f.buffer, f.byteOffset, f.length).getBigUint64(34);
  const base = { kind, from: f.slice(2, 18), to: f.slice(18, 34), seq, header: header.slice() };
  if (kind === KIND_HELLO) {
    if (f.length < HEADER_LEN + HELLO_NONCE_LEN + TAG_LEN) return { error: 'hello frame too short' };
    return {
      ...base,
      nonce: f.slice(HEADER_LEN, HEADER_LEN + HELLO_NONCE_LEN),
      ciphertext: f.subarray(HEADER_LEN + HELLO_NONCE_LEN)
    };
  }
  return { ...base, ciphertext: f.subarray(HEADER_LEN) };
}

/** The connection a frame is addressed to (all zeros: everyone). For transports that route. */
export function frameTarget(f: Uint8Array): ConnId | undefined {
  return f.length >= HEADER_LEN ? f.slice(18, 34) : undefined;
}

/** The 12-byte GCM nonce of a sealed frame: its counter. Each direction of a session has its own key. */
export function counterNonce(seq: bigint): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, seq);
  return n;
}

export const connHex = (c: Uint8Array): string => Array.from(c, (b) => b.toString(16).padStart(2, '0')).join('');
