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
import { concatAll, concatBytes, fromHex, toHex } from '../../core/bytes.ts';
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
  parts.push(packSum);
  const pack = concatAll(parts);

  return { sha: toHex(packSum), pack, idx: await buildIdx(entries, packSum) };
}

/** A version-2 pack index for the entries of a pack whose trailing SHA-1 is `packSum`. */
export async function buildIdx(list: Array<{ oid: string; offset: number; crc: number }>, packSum: Uint8Array): Promise<Uint8Array> {
  const entries = [...list].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
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
  const sha1 = await createSHA1();
  sha1.init();
  sha1.update(idx.subarray(0, at));
  idx.set(sha1.digest('binary'), at);
  return idx;
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

export interface ParsedPackEntry {
  /** The object's id, computed here from its content (never taken from the sender). */
  oid: string;
  type: GitObject['type'] | 'tag';
  content: Uint8Array;
  offset: number;
  /** CRC-32 of the entry's bytes in the pack (for its index). */
  crc: number;
}

export interface ParsedPack {
  entries: ParsedPackEntry[];
  objects: Map<string, ParsedPackEntry>;
  /** The pack's trailing SHA-1, hex. */
  sha: string;
}

/** A problem in a received pack, with the offset and (when it got that far) the object it concerns. */
export class PackError extends TypeError {
  readonly offset?: number;
  readonly oid?: string;
  constructor(message: string, offset?: number, oid?: string) {
    super(message);
    this.name = 'PackError';
    this.offset = offset;
    this.oid = oid;
  }
}

/**
 * Parses a whole pack received from a remote (no index: entries are read in order, each inflated to find where
 * the next begins), resolves its deltas (OFS_DELTA, and REF_DELTA against objects in the same pack), and names
 * every object by the SHA-1 of its content. Checks the pack's trailing checksum last, after naming what it
 * can, so that a damaged object is reported by name. Throws a PackError on anything malformed: every byte
 * here is hostile.
 */
export async function parsePack(pack: Uint8Array, opts: { maxObjects?: number; zlib?: import('./binding.ts').GitZlib } = {}): Promise<ParsedPack> {
  const { PackInflater } = await import('./inflate.ts');
  const { gitObjectSync, initSha1 } = await import('../../core/journal/objects.ts');
  await initSha1();
  if (pack.length < 32 || pack[0] !== 0x50 || pack[1] !== 0x41 || pack[2] !== 0x43 || pack[3] !== 0x4b) throw new PackError('not a pack (no "PACK" signature)', 0);
  const dv = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  const version = dv.getUint32(4);
  if (version !== 2 && version !== 3) throw new PackError(`pack version ${version} is not supported`, 4);
  const count = dv.getUint32(8);
  if (count > (opts.maxObjects ?? 10_000_000)) throw new PackError(`the pack claims ${count} objects`, 8);
  const inflater = new PackInflater(opts.zlib?.inflatePrefix);
  const body = pack.subarray(0, pack.length - 20);
  interface Raw { offset: number; type: number; data: Uint8Array; base?: number | string; crc: number }
  const raws: Raw[] = [];
  const byOffset = new Map<number, Raw>();
  let i = 12;
  for (let k = 0; k < count; k++) {
    const offset = i;
    if (i >= body.length) throw new PackError(`the pack ends after ${k} of its ${count} objects`, i);
    let c = body[i++];
    const type = (c >> 4) & 7;
    let size = c & 0x0f;
    let shift = 4;
    while (c & 0x80) {
      if (i >= body.length || shift > 49) throw new PackError('malformed object header', offset);
      c = body[i++];
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    let base: number | string | undefined;
    if (type === OFS_DELTA) {
      if (i >= body.length) throw new PackError('malformed delta header', offset);
      c = body[i++];
      let back = c & 0x7f;
      while (c & 0x80) {
        if (i >= body.length) throw new PackError('malformed delta header', offset);
        c = body[i++];
        back = (back + 1) * 128 + (c & 0x7f);
      }
      base = offset - back;
      if (base < 12 || !byOffset.has(base)) throw new PackError('a delta whose base is not an earlier object of the pack', offset);
    } else if (type === 7) {
      if (i + 20 > body.length) throw new PackError('malformed delta header', offset);
      base = toHex(body.subarray(i, i + 20));
      i += 20;
    } else if (!TYPE_NAME[type]) throw new PackError(`an object of type ${type}`, offset);
    if (size > body.length * 1032 + 1024) throw new PackError(`an object that claims ${size} bytes`, offset);
    let inflated;
    try {
      inflated = inflater.inflateAt(body, i, size);
    } catch (e) {
      throw new PackError((e as Error).message, offset);
    }
    i = inflated.end;
    const raw: Raw = { offset, type, data: inflated.data, base, crc: crc32(body.subarray(offset, i)) };
    raws.push(raw);
    byOffset.set(offset, raw);
  }
  if (i !== body.length) throw new PackError(`${body.length - i} bytes after the pack's last object`, i);

  const entries: ParsedPackEntry[] = [];
  const objects = new Map<string, ParsedPackEntry>();
  const resolved = new Map<number, { type: ParsedPackEntry['type']; content: Uint8Array }>();
  const pendingRef: Raw[] = [];
  const resolve = (r: Raw, depth: number): { type: ParsedPackEntry['type']; content: Uint8Array } | undefined => {
    const done = resolved.get(r.offset);
    if (done) return done;
    if (depth > 10_000) throw new PackError('delta chain too deep', r.offset);
    let obj;
    if (r.base === undefined) obj = { type: TYPE_NAME[r.type]!, content: r.data };
    else {
      const b = typeof r.base === 'number' ? resolveAt(r.base, depth) : objects.get(r.base);
      if (!b) return undefined;
      try {
        obj = { type: b.type, content: applyDelta(b.content, r.data) };
      } catch (e) {
        throw new PackError((e as Error).message, r.offset);
      }
    }
    resolved.set(r.offset, obj);
    const { oid } = gitObjectSync(obj.type as GitObject['type'], obj.content);
    const entry: ParsedPackEntry = { oid, type: obj.type, content: obj.content, offset: r.offset, crc: r.crc };
    entries.push(entry);
    objects.set(oid, entry);
    return obj;
  };
  const resolveAt = (offset: number, depth: number) => {
    const r = byOffset.get(offset)!;
    const o = resolve(r, depth + 1);
    if (!o) pendingRef.push(r);
    return o;
  };
  for (const r of raws) if (!resolve(r, 0)) pendingRef.push(r);
  // REF_DELTAs whose base came later in the pack: resolve until nothing moves.
  for (let left = [...new Set(pendingRef)].filter((r) => !resolved.has(r.offset)); left.length; ) {
    const next = left.filter((r) => !resolve(r, 0));
    if (next.length === left.length) throw new PackError(`a delta against object ${String(next[0].base)}, which the pack does not hold`, next[0].offset);
    left = next;
  }
  const sha1 = await createSHA1();
  sha1.init();
  sha1.update(body);
  const sum = sha1.digest('hex');
  const trailer = toHex(pack.subarray(pack.length - 20));
  if (sum !== trailer) throw new PackError(`the pack's checksum does not match its content (${trailer} stored, ${sum} computed)`, pack.length - 20);
  entries.sort((a, b) => a.offset - b.offset);
  return { entries, objects, sha: sum };
}
