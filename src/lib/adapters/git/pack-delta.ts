/**
 * Git deltas (the data of an OFS_DELTA or REF_DELTA pack entry):
 *
 *   delta  varint(source size) varint(target size) { copy: 1oooossss + offset/size bytes | insert: 0nnnnnnn + n bytes }*
 *
 * makeDelta encodes one against a source (matching blocks of 8 bytes), applyDelta decodes one, checking every
 * offset and size against the bytes it has: a delta from a remote is hostile.
 */
import { PackError, PackErrorCode } from './pack-format.ts';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

const BLOCK = 8;
function blockHash(b: Uint8Array, i: number): number {
  let h = 0;
  for (let k = 0; k < BLOCK; k++) h = (Math.imul(h, 31) + b[i + k]) | 0;
  return h;
}

/** Where each 8-byte block of `src` first occurs, by its hash (makeDelta's index of a base). */
export function deltaIndex(src: Uint8Array): Map<number, number> {
  const index = new Map<number, number>();
  for (let i = 0; i + BLOCK <= src.length; i++) {
    const h = blockHash(src, i);
    if (!index.has(h)) index.set(h, i);
  }
  return index;
}

/** A git delta that turns `src` into `dst`, or undefined when it saves nothing. */
export function makeDelta(src: Uint8Array, dst: Uint8Array, index = deltaIndex(src)): Uint8Array | undefined {
  const out: number[] = [...varint(src.length), ...varint(dst.length)];
  let pending: number[] = [];
  const flushInsert = () => {
    for (let i = 0; i < pending.length; i += 127) {
      const part = pending.slice(i, i + 127);
      out.push(part.length, ...part);
    }
    pending = [];
  };
  let i = 0;
  while (i < dst.length) {
    let len = 0;
    let at = -1;
    if (i + BLOCK <= dst.length) {
      const c = index.get(blockHash(dst, i));
      if (c !== undefined) {
        let n = 0;
        while (c + n < src.length && i + n < dst.length && src[c + n] === dst[i + n]) n++;
        if (n >= BLOCK) {
          len = n;
          at = c;
        }
      }
    }
    if (at < 0) {
      pending.push(dst[i++]);
      continue;
    }
    flushInsert();
    let off = at;
    let left = len;
    while (left > 0) {
      const size = Math.min(left, 0xffff);
      const op = [0x80];
      for (let k = 0; k < 4; k++) {
        const byte = (off >>> (8 * k)) & 0xff;
        if (byte) {
          op[0] |= 1 << k;
          op.push(byte);
        }
      }
      for (let k = 0; k < 2; k++) {
        const byte = (size >>> (8 * k)) & 0xff;
        if (byte) {
          op[0] |= 0x10 << k;
          op.push(byte);
        }
      }
      out.push(...op);
      off += size;
      left -= size;
    }
    i += len;
  }
  flushInsert();
  return out.length < dst.length * 0.8 ? new Uint8Array(out) : undefined;
}

/**
 * Applies a git delta to `base`. Every size, offset and length is checked against the bytes there are before it
 * is used; throws a PackError (DELTA_INVALID) naming what is wrong on anything malformed (fetched bytes are
 * hostile).
 */
const deltaError = (message: string) => new PackError(message, undefined, undefined, PackErrorCode.DELTA_INVALID);

export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  let i = 0;
  const byte = (what: string) => {
    if (i >= delta.length) throw deltaError(`truncated delta (${what})`);
    return delta[i++];
  };
  const varintAt = (what: string) => {
    let n = 0;
    let shift = 0;
    let c;
    do {
      // 7 bytes hold 49 bits: more is no size this reader could allocate (nor a safe integer).
      if (shift > 42) throw deltaError(`delta ${what} too long`);
      c = byte(what);
      n += (c & 0x7f) * 2 ** shift;
      shift += 7;
    } while (c & 0x80);
    return n;
  };
  if (varintAt('base size') !== base.length) throw deltaError('delta base size mismatch');
  const size = varintAt('result size');
  // Each opcode byte yields at most 0x10000 bytes (a copy with no size bytes): a larger result is a lie, refused
  // before it is allocated.
  if (size > (delta.length - i) * 0x10000)
    throw deltaError(`delta claims a ${size}-byte result its ${delta.length - i} bytes of instructions cannot make`);
  const out = new Uint8Array(size);
  let at = 0;
  while (i < delta.length) {
    const op = delta[i++];
    if (op & 0x80) {
      let off = 0;
      let len = 0;
      for (let k = 0; k < 4; k++) if (op & (1 << k)) off += byte('copy offset') * 2 ** (8 * k);
      for (let k = 0; k < 3; k++) if (op & (0x10 << k)) len += byte('copy size') << (8 * k);
      if (len === 0) len = 0x10000;
      if (off + len > base.length)
        throw deltaError(`delta copy of ${len} bytes at ${off} reads past the ${base.length}-byte base`);
      if (at + len > out.length) throw deltaError('delta copy past the result size');
      out.set(base.subarray(off, off + len), at);
      at += len;
    } else if (op) {
      if (i + op > delta.length) throw deltaError('truncated delta (insert)');
      if (at + op > out.length) throw deltaError('delta insert past the result size');
      out.set(delta.subarray(i, i + op), at);
      i += op;
      at += op;
    } else throw deltaError('delta opcode 0');
  }
  if (at !== out.length) throw deltaError('delta result size mismatch');
  return out;
}
