/**
 * A packfile writer (pack version 2 with OFS_DELTA, index version 2), without git: enough to keep the journal
 * small. Each object is stored whole or as a delta against a recent object of the same type (delta chains one
 * deep: a base is always stored whole, so reading any object costs at most one delta).
 *
 *   pack   "PACK" u32(2) u32(count) { header [ofs] zlib(data) }* sha1(all before)
 *   header type(3 bits) and size in a little-endian base-128 varint (first byte: 1 continuation bit, 3 type
 *          bits, 4 size bits); OFS_DELTA (6) then the distance back to its base, in git's offset encoding
 *   delta  varint(source size) varint(target size) { copy: 1oooossss + offset/size bytes | insert: 0nnnnnnn + n bytes }*
 *   idx    ff744f63 u32(2) fanout[256] oids(sorted) crc32[] u32 offsets[] pack-sha1 idx-sha1
 */
import { createSHA1 } from 'hash-wasm';
import { concatBytes, fromHex, toHex } from '../../core/bytes.ts';
import type { GitObject } from '../../core/journal/objects.ts';

export type Deflate = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

const TYPE_CODE = { commit: 1, tree: 2, blob: 3 } as const;
const OFS_DELTA = 6;
/** Objects compared as delta bases (the most recent whole objects of the same type). */
const WINDOW = 4;
/** A base is reused for this many deltas, then the next object of that type is stored whole. */
const KEYFRAME_EVERY = 64;

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

function objHeader(type: number, size: number): number[] {
  const out: number[] = [];
  let b = (type << 4) | (size & 0x0f);
  size = Math.floor(size / 16);
  while (size > 0) {
    out.push(b | 0x80);
    b = size & 0x7f;
    size = Math.floor(size / 128);
  }
  out.push(b);
  return out;
}

function ofsEncoding(distance: number): number[] {
  let n = distance;
  const out = [n & 0x7f];
  n = Math.floor(n / 128);
  while (n > 0) {
    n -= 1;
    out.unshift(0x80 | (n & 0x7f));
    n = Math.floor(n / 128);
  }
  return out;
}

const BLOCK = 8;
function blockHash(b: Uint8Array, i: number): number {
  let h = 0;
  for (let k = 0; k < BLOCK; k++) h = (Math.imul(h, 31) + b[i + k]) | 0;
  return h;
}

/** A git delta that turns `src` into `dst`, or undefined when it saves nothing. */
export function deltaIndex(src: Uint8Array): Map<number, number> {
  const index = new Map<number, number>();
  for (let i = 0; i + BLOCK <= src.length; i++) {
    const h = blockHash(src, i);
    if (!index.has(h)) index.set(h, i);
  }
  return index;
}

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
        if (n >= BLOCK) (len = n), (at = c);
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
        if (byte) (op[0] |= 1 << k), op.push(byte);
      }
      for (let k = 0; k < 2; k++) {
        const byte = (size >>> (8 * k)) & 0xff;
        if (byte) (op[0] |= 0x10 << k), op.push(byte);
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

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

export interface WrittenPack {
  /** The pack's SHA-1 (its files are pack-<sha>.pack and .idx). */
  sha: string;
  pack: Uint8Array;
  idx: Uint8Array;
}

/** Builds a pack and its index from whole objects (in the order given: deltas point back only). */
export async function buildPack(objects: GitObject[], deflate: Deflate, opts: { deltas?: boolean; window?: number; keyframeEvery?: number } = {}): Promise<WrittenPack> {
  const window = opts.deltas === false ? 0 : (opts.window ?? WINDOW);
  const keyframeEvery = opts.keyframeEvery ?? KEYFRAME_EVERY;
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(12);
  head.set([0x50, 0x41, 0x43, 0x4b]);
  new DataView(head.buffer).setUint32(4, 2);
  new DataView(head.buffer).setUint32(8, objects.length);
  parts.push(head);
  let offset = 12;
  const entries: Array<{ oid: string; offset: number; crc: number }> = [];
  const bases: Record<string, Array<{ obj: GitObject; offset: number; uses: number; index?: Map<number, number> }>> = { blob: [], tree: [], commit: [] };
  for (const o of objects) {
    const win = bases[o.type];
    let best: { base: (typeof win)[number]; delta: Uint8Array } | undefined;
    for (const b of window ? win : []) {
      if (b.uses >= keyframeEvery) continue;
      if (o.type === 'tree') break; // one-entry trees: nothing to share
      b.index ??= deltaIndex(b.obj.content);
      const d = makeDelta(b.obj.content, o.content, b.index);
      if (d && (!best || d.length < best.delta.length)) best = { base: b, delta: d };
    }
    let raw: Uint8Array;
    if (best) {
      best.base.uses++;
      const h = [...objHeader(OFS_DELTA, best.delta.length), ...ofsEncoding(offset - best.base.offset)];
      raw = concatBytes(new Uint8Array(h), await deflate(best.delta));
    } else {
      raw = concatBytes(new Uint8Array(objHeader(TYPE_CODE[o.type], o.content.length)), await deflate(o.content));
      win.unshift({ obj: o, offset, uses: 0 });
      if (win.length > Math.max(window, 1)) win.pop();
    }
    entries.push({ oid: o.oid, offset, crc: crc32(raw) });
    parts.push(raw);
    offset += raw.length;
  }
  const sha1 = await createSHA1();
  sha1.init();
  for (const p of parts) sha1.update(p);
  const packSum = sha1.digest('binary');
  const pack = concatBytes(...parts, packSum);

  entries.sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  const n = entries.length;
  const idx = new Uint8Array(8 + 256 * 4 + n * 28 + 40);
  const dv = new DataView(idx.buffer);
  dv.setUint32(0, 0xff744f63);
  dv.setUint32(4, 2);
  let e = 0;
  for (let byte = 0; byte < 256; byte++) {
    while (e < n && parseInt(entries[e].oid.slice(0, 2), 16) <= byte) e++;
    dv.setUint32(8 + byte * 4, e);
  }
  let at = 8 + 256 * 4;
  for (const x of entries) (idx.set(fromHex(x.oid), at), (at += 20));
  for (const x of entries) (dv.setUint32(at, x.crc), (at += 4));
  for (const x of entries) (idx.set(u32(x.offset), at), (at += 4));
  idx.set(packSum, at);
  at += 20;
  sha1.init();
  sha1.update(idx.subarray(0, at));
  idx.set(sha1.digest('binary'), at);
  return { sha: toHex(packSum), pack, idx };
}

/** Object ids listed in a pack index (version 2). */
export function idxOids(idx: Uint8Array): string[] {
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  if (dv.getUint32(0) !== 0xff744f63 || dv.getUint32(4) !== 2) throw new TypeError('unsupported pack index');
  const n = dv.getUint32(8 + 255 * 4);
  const out: string[] = [];
  const base = 8 + 256 * 4;
  for (let i = 0; i < n; i++) out.push(toHex(idx.subarray(base + i * 20, base + i * 20 + 20)));
  return out;
}

const TYPE_NAME: Record<number, GitObject['type'] | 'tag'> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

/** Applies a git delta to `base`. Throws a TypeError on anything malformed (fetched bytes are hostile). */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  let i = 0;
  const varintAt = () => {
    let n = 0;
    let shift = 0;
    let c;
    do {
      if (i >= delta.length) throw new TypeError('truncated delta');
      c = delta[i++];
      n += (c & 0x7f) * 2 ** shift;
      shift += 7;
    } while (c & 0x80);
    return n;
  };
  if (varintAt() !== base.length) throw new TypeError('delta base size mismatch');
  const out = new Uint8Array(varintAt());
  let at = 0;
  while (i < delta.length) {
    const op = delta[i++];
    if (op & 0x80) {
      let off = 0;
      let size = 0;
      for (let k = 0; k < 4; k++) if (op & (1 << k)) off |= delta[i++] << (8 * k);
      for (let k = 0; k < 3; k++) if (op & (0x10 << k)) size |= delta[i++] << (8 * k);
      off >>>= 0;
      if (size === 0) size = 0x10000;
      if (off + size > base.length || at + size > out.length) throw new TypeError('delta copy out of range');
      out.set(base.subarray(off, off + size), at);
      at += size;
    } else if (op) {
      if (i + op > delta.length || at + op > out.length) throw new TypeError('delta insert out of range');
      out.set(delta.subarray(i, i + op), at);
      i += op;
      at += op;
    } else throw new TypeError('delta opcode 0');
  }
  if (at !== out.length) throw new TypeError('delta result size mismatch');
  return out;
}

/**
 * Reads every object of a pack (with its version-2 index) into memory: much faster than reading them one by
 * one through isomorphic-git. Throws a TypeError on anything malformed.
 */
export async function readPack(pack: Uint8Array, idx: Uint8Array, inflate: (b: Uint8Array) => Uint8Array | Promise<Uint8Array>): Promise<Map<string, { type: string; content: Uint8Array }>> {
  const oids = idxOids(idx);
  const n = oids.length;
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const offBase = 8 + 256 * 4 + n * 24;
  const entries = oids.map((oid, k) => ({ oid, offset: dv.getUint32(offBase + k * 4) }));
  if (entries.some((e) => e.offset & 0x80000000)) throw new TypeError('packs over 2 GiB are not read here');
  entries.sort((a, b) => a.offset - b.offset);
  const raw = new Map<number, { oid: string; type: number; data: Uint8Array; base?: number | string }>();
  for (let k = 0; k < n; k++) {
    const { oid, offset } = entries[k];
    const end = k + 1 < n ? entries[k + 1].offset : pack.length - 20;
    let i = offset;
    let c = pack[i++];
    const type = (c >> 4) & 7;
    while (c & 0x80) c = pack[i++];
    let base: number | string | undefined;
    if (type === 6) {
      c = pack[i++];
      let back = c & 0x7f;
      while (c & 0x80) {
        c = pack[i++];
        back = (back + 1) * 128 + (c & 0x7f);
      }
      base = offset - back;
    } else if (type === 7) {
      base = toHex(pack.subarray(i, i + 20));
      i += 20;
    } else if (!TYPE_NAME[type]) throw new TypeError(`pack object of type ${type}`);
    if (i > end) throw new TypeError('malformed pack');
    raw.set(offset, { oid, type, data: await inflate(pack.subarray(i, end)), base });
  }
  const byOid = new Map<string, number>(entries.map((e) => [e.oid, e.offset]));
  const out = new Map<string, { type: string; content: Uint8Array }>();
  const resolve = (offset: number, depth = 0): { type: string; content: Uint8Array } => {
    const r = raw.get(offset);
    if (!r) throw new TypeError('delta base not in the pack');
    const done = out.get(r.oid);
    if (done) return done;
    if (depth > 1000) throw new TypeError('delta chain too deep');
    let obj;
    if (r.base === undefined) obj = { type: TYPE_NAME[r.type]!, content: r.data };
    else {
      const baseOffset = typeof r.base === 'string' ? byOid.get(r.base) : r.base;
      if (baseOffset === undefined) throw new TypeError('delta base not in the pack');
      const b = resolve(baseOffset, depth + 1);
      obj = { type: b.type, content: applyDelta(b.content, r.data) };
    }
    out.set(r.oid, obj);
    return obj;
  };
  for (const e of entries) resolve(e.offset);
  return out;
}
