/**
 * Pack readers: readPack reads a pack with its index (the journal's own packs), parsePack a whole pack received
 * from a remote, without an index. Both resolve deltas with applyDelta and throw on anything malformed.
 */
import { createSHA1 } from 'hash-wasm';
import { toHex } from '../../core/bytes.ts';
import type { GitObject } from '../../core/journal/objects.ts';
import { applyDelta } from './pack-delta.ts';
import { crc32, OFS_DELTA, PackError, PackErrorCode, REF_DELTA, TYPE_NAME } from './pack-format.ts';

/** Object ids listed in a pack index (version 2). */
export function idxOids(idx: Uint8Array): string[] {
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  if (dv.getUint32(0) !== 0xff744f63 || dv.getUint32(4) !== 2)
    throw new PackError('unsupported pack index', undefined, undefined, PackErrorCode.PACK_INDEX_INVALID);
  const n = dv.getUint32(8 + 255 * 4);
  if (idx.length < 8 + 256 * 4 + n * 28 + 40)
    throw new PackError(
      `pack index too short for its ${n} objects`,
      undefined,
      undefined,
      PackErrorCode.PACK_INDEX_INVALID
    );
  const out: string[] = [];
  const base = 8 + 256 * 4;
  for (let i = 0; i < n; i++) out.push(toHex(idx.subarray(base + i * 20, base + i * 20 + 20)));
  return out;
}

/**
 * Reads every object of a pack (with its version-2 index) into memory: much faster than reading them one by
 * one through isomorphic-git. Throws a PackError on anything malformed.
 */
export async function readPack(
  pack: Uint8Array,
  idx: Uint8Array,
  inflate: (b: Uint8Array) => Uint8Array | Promise<Uint8Array>
): Promise<Map<string, { type: string; content: Uint8Array }>> {
  const oids = idxOids(idx);
  const n = oids.length;
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const offBase = 8 + 256 * 4 + n * 24;
  const entries = oids.map((oid, k) => ({ oid, offset: dv.getUint32(offBase + k * 4) }));
  if (entries.some((e) => e.offset & 0x80000000)) throw new PackError('packs over 2 GiB are not read here');
  if (entries.some((e) => e.offset < 12 || e.offset >= pack.length - 20))
    throw new PackError('pack index offset outside the pack', undefined, undefined, PackErrorCode.PACK_INDEX_INVALID);
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
    if (type === OFS_DELTA) {
      c = pack[i++];
      let back = c & 0x7f;
      while (c & 0x80) {
        c = pack[i++];
        back = (back + 1) * 128 + (c & 0x7f);
      }
      base = offset - back;
    } else if (type === REF_DELTA) {
      base = toHex(pack.subarray(i, i + 20));
      i += 20;
    } else if (!TYPE_NAME[type]) throw new PackError(`pack object of type ${type}`, offset);
    if (i > end) throw new PackError('malformed pack', offset);
    raw.set(offset, { oid, type, data: await inflate(pack.subarray(i, end)), base });
  }
  const byOid = new Map<string, number>(entries.map((e) => [e.oid, e.offset]));
  const out = new Map<string, { type: string; content: Uint8Array }>();
  const resolve = (offset: number, depth = 0): { type: string; content: Uint8Array } => {
    const r = raw.get(offset);
    if (!r) throw new PackError('delta base not in the pack', offset);
    const done = out.get(r.oid);
    if (done) return done;
    if (depth > 1000) throw new PackError('delta chain too deep', offset);
    let obj;
    if (r.base === undefined) obj = { type: TYPE_NAME[r.type]!, content: r.data };
    else {
      const baseOffset = typeof r.base === 'string' ? byOid.get(r.base) : r.base;
      if (baseOffset === undefined) throw new PackError('delta base not in the pack', offset);
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

/**
 * Parses a whole pack received from a remote (no index: entries are read in order, each inflated to find where
 * the next begins), resolves its deltas (OFS_DELTA, and REF_DELTA against objects in the same pack), and names
 * every object by the SHA-1 of its content. Checks the pack's trailing checksum last, after naming what it
 * can, so that a damaged object is reported by name. Throws a PackError on anything malformed: every byte
 * here is hostile.
 */
export async function parsePack(
  pack: Uint8Array,
  opts: { maxObjects?: number; zlib?: import('./binding.ts').GitZlib } = {}
): Promise<ParsedPack> {
  const { PackInflater } = await import('./inflate.ts');
  const { gitObjectSync, initSha1 } = await import('../../core/journal/objects.ts');
  await initSha1();
  if (pack.length < 32 || pack[0] !== 0x50 || pack[1] !== 0x41 || pack[2] !== 0x43 || pack[3] !== 0x4b)
    throw new PackError('not a pack (no "PACK" signature)', 0);
  const dv = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  const version = dv.getUint32(4);
  if (version !== 2 && version !== 3) throw new PackError(`pack version ${version} is not supported`, 4);
  const count = dv.getUint32(8);
  if (count > (opts.maxObjects ?? 10_000_000)) throw new PackError(`the pack claims ${count} objects`, 8);
  const inflater = new PackInflater(opts.zlib?.inflatePrefix);
  const body = pack.subarray(0, pack.length - 20);
  interface Raw {
    offset: number;
    type: number;
    data: Uint8Array;
    base?: number | string;
    crc: number;
  }
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
      if (base < 12 || !byOffset.has(base))
        throw new PackError('a delta whose base is not an earlier object of the pack', offset);
    } else if (type === REF_DELTA) {
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
  for (let left = [...new Set(pendingRef)].filter((r) => !resolved.has(r.offset)); left.length;) {
    const next = left.filter((r) => !resolve(r, 0));
    if (next.length === left.length)
      throw new PackError(
        `a delta against object ${String(next[0].base)}, which the pack does not hold`,
        next[0].offset
      );
    left = next;
  }
  const sha1 = await createSHA1();
  sha1.init();
  sha1.update(body);
  const sum = sha1.digest('hex');
  const trailer = toHex(pack.subarray(pack.length - 20));
  if (sum !== trailer)
    throw new PackError(
      `the pack's checksum does not match its content (${trailer} stored, ${sum} computed)`,
      pack.length - 20
    );
  entries.sort((a, b) => a.offset - b.offset);
  return { entries, objects, sha: sum };
}
