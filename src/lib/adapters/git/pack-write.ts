/**
 * The pack writer (pack version 2 with OFS_DELTA, index version 2), without git: enough to keep the journal
 * small. Each object is stored whole or as a delta against a recent object of the same type (delta chains one
 * deep: a base is always stored whole, so reading any object costs at most one delta).
 *
 *   pack   "PACK" u32(2) u32(count) { header [ofs] zlib(data) }* sha1(all before)
 *   header type(3 bits) and size in a little-endian base-128 varint (first byte: 1 continuation bit, 3 type
 *          bits, 4 size bits); OFS_DELTA (6) then the distance back to its base, in git's offset encoding
 *   idx    ff744f63 u32(2) fanout[256] oids(sorted) crc32[] u32 offsets[] pack-sha1 idx-sha1
 */
import { createSHA1 } from 'hash-wasm';
import { concatAll, concatBytes, fromHex, toHex } from '../../core/bytes.ts';
import type { GitObject } from '../../core/journal/objects.ts';
import { deltaIndex, makeDelta } from './pack-delta.ts';
import { crc32, OFS_DELTA, TYPE_CODE } from './pack-format.ts';

export type Deflate = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** Objects compared as delta bases (the most recent whole objects of the same type). */
const WINDOW = 4;
/** A base is reused for this many deltas, then the next object of that type is stored whole. */
const KEYFRAME_EVERY = 64;

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
export async function buildPack(
  objects: GitObject[],
  deflate: Deflate,
  opts: { deltas?: boolean; window?: number; keyframeEvery?: number } = {}
): Promise<WrittenPack> {
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
  const bases: Record<string, Array<{ obj: GitObject; offset: number; uses: number; index?: Map<number, number> }>> = {
    blob: [],
    tree: [],
    commit: []
  };
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
export async function buildIdx(
  list: Array<{ oid: string; offset: number; crc: number }>,
  packSum: Uint8Array
): Promise<Uint8Array> {
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
  for (const x of entries) {
    idx.set(fromHex(x.oid), at);
    at += 20;
  }
  for (const x of entries) {
    dv.setUint32(at, x.crc);
    at += 4;
  }
  for (const x of entries) {
    idx.set(u32(x.offset), at);
    at += 4;
  }
  idx.set(packSum, at);
  at += 20;
  const sha1 = await createSHA1();
  sha1.init();
  sha1.update(idx.subarray(0, at));
  idx.set(sha1.digest('binary'), at);
  return idx;
}
