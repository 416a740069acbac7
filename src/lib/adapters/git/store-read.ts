/**
 * Reads the journal's object store (loose objects and version-2 packs) directly on the binding's file system,
 * checking every object it returns: its bytes inflate, and its content hashes to its name. No isomorphic-git,
 * so it runs in the browser too.
 *
 * check() goes over everything stored and reports each damaged object by name: a loose object that does not
 * inflate or no longer hashes to its file name; a pack entry whose bytes fail the CRC-32 its index records,
 * do not inflate, or resolve to content with another id; and a pack or index whose checksum does not match
 * (any changed byte is caught by one of these; the object is named whenever the byte lies in one).
 */
import { createSHA1 } from 'hash-wasm';
import { toHex } from '../../core/bytes.ts';
import { gitObjectSync, initSha1, OID_RE, type GitObjectType } from '../../core/journal/objects.ts';
import type { GitBinding } from './binding.ts';
import { PackInflater } from './inflate.ts';
import { webZlib } from './objects.ts';
import { applyDelta, crc32 } from './pack.ts';

export interface StoredObject {
  type: GitObjectType | 'tag';
  content: Uint8Array;
}

export interface StoreProblem {
  /** The damaged object, when the damage lies in one. */
  oid?: string;
  /** The file, relative to the gitdir (objects/ab/cdef…, objects/pack/pack-….pack or .idx). */
  file: string;
  message: string;
}

/** A stored object whose bytes are damaged. */
export class CorruptObject extends Error {
  readonly oid: string;
  readonly file: string;
  constructor(oid: string, file: string, message: string) {
    super(`journal object ${oid} (${file}) is damaged: ${message}`);
    this.name = 'CorruptObject';
    this.oid = oid;
    this.file = file;
  }
}

const TYPES: Record<number, StoredObject['type']> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

/** Objects check() keeps for delta bases (the most recently read). */
const CHECK_CACHE = 4096;

/** A Map that forgets its oldest entry once it holds `max`. */
function boundedCache<K, V>(max: number): Map<K, V> {
  const m = new Map<K, V>();
  const set = m.set.bind(m);
  m.set = (k: K, v: V) => {
    if (!m.has(k) && m.size >= max) m.delete(m.keys().next().value as K);
    return set(k, v);
  };
  return m;
}

interface PackIndex {
  name: string;
  /** oid -> { offset, crc } */
  byOid: Map<string, { offset: number; crc: number }>;
  /** Entry offsets, ascending (an entry ends where the next begins, or at the trailer). */
  offsets: number[];
  pack?: Uint8Array;
  problem?: StoreProblem;
}

function parseIdx(name: string, idx: Uint8Array): PackIndex {
  const file = `objects/pack/${name}.idx`;
  const fail = (message: string): PackIndex => ({ name, byOid: new Map(), offsets: [], problem: { file, message } });
  if (idx.length < 8 + 1024 + 40) return fail('the pack index is truncated');
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  if (dv.getUint32(0) !== 0xff744f63 || dv.getUint32(4) !== 2) return fail('not a version-2 pack index');
  let prev = 0;
  for (let b = 0; b < 256; b++) {
    const v = dv.getUint32(8 + b * 4);
    if (v < prev) return fail('its fan-out table is not ascending');
    prev = v;
  }
  const n = prev;
  if (idx.length !== 8 + 1024 + n * 28 + 40) return fail(`its size does not fit ${n} objects`);
  const base = 8 + 1024;
  const byOid = new Map<string, { offset: number; crc: number }>();
  for (let i = 0; i < n; i++) {
    const oid = toHex(idx.subarray(base + i * 20, base + i * 20 + 20));
    const crc = dv.getUint32(base + n * 20 + i * 4);
    const offset = dv.getUint32(base + n * 24 + i * 4);
    if (offset & 0x80000000) return fail('packs over 2 GiB are not read here');
    byOid.set(oid, { offset, crc });
  }
  return { name, byOid, offsets: [...byOid.values()].map((e) => e.offset).sort((a, b) => a - b) };
}

export class ObjectReader {
  readonly #b: GitBinding;
  #packs: PackIndex[] = [];
  #inflater: PackInflater;

  private constructor(binding: GitBinding) {
    this.#b = binding;
    this.#inflater = new PackInflater(binding.zlib?.inflatePrefix);
  }

  static async open(binding: GitBinding): Promise<ObjectReader> {
    await initSha1();
    const r = new ObjectReader(binding);
    const dir = `${binding.gitdir}/objects/pack`;
    const names = await binding.fs.promises.readdir(dir).catch(() => [] as string[]);
    for (const f of names.sort()) {
      if (!/^pack-[0-9a-f]{40}\.idx$/.test(f)) continue;
      const name = f.slice(0, -4);
      try {
        r.#packs.push(parseIdx(name, new Uint8Array(await binding.fs.promises.readFile(`${dir}/${f}`))));
      } catch (e) {
        r.#packs.push({
          name,
          byOid: new Map(),
          offsets: [],
          problem: { file: `objects/pack/${f}`, message: `cannot be read: ${(e as Error).message}` }
        });
      }
    }
    return r;
  }

  async #packBytes(p: PackIndex): Promise<Uint8Array> {
    p.pack ??= new Uint8Array(await this.#b.fs.promises.readFile(`${this.#b.gitdir}/objects/pack/${p.name}.pack`));
    return p.pack;
  }

  /**
   * The object, checked (inflates, hashes to its id); undefined when not stored; CorruptObject when damaged.
   * The packs' indexes are asked first (in memory): most objects are packed, and a loose-file lookup that
   * fails costs a system call each (100k of them in a verify of a 100k-event journal).
   */
  async read(oid: string): Promise<StoredObject | undefined> {
    if (!OID_RE.test(oid)) return undefined;
    for (const p of this.#packs) {
      const e = p.byOid.get(oid);
      if (e) return this.#readPacked(p, oid, e.offset, new Map());
    }
    return this.#readLoose(oid);
  }

  /** True when the object is stored, loose or in a pack (not read, so not checked). */
  async has(oid: string): Promise<boolean> {
    if (!OID_RE.test(oid)) return false;
    if (this.#packs.some((p) => p.byOid.has(oid))) return true;
    return this.#b.fs.promises.stat(`${this.#b.gitdir}/objects/${oid.slice(0, 2)}/${oid.slice(2)}`).then(
      () => true,
      () => false
    );
  }

  async #readLoose(oid: string): Promise<StoredObject | undefined> {
    const file = `objects/${oid.slice(0, 2)}/${oid.slice(2)}`;
    let raw: Uint8Array;
    try {
      raw = new Uint8Array(await this.#b.fs.promises.readFile(`${this.#b.gitdir}/${file}`));
    } catch {
      return undefined;
    }
    let data: Uint8Array;
    try {
      data = new Uint8Array(await (this.#b.zlib ?? webZlib).inflate(raw));
    } catch (e) {
      throw new CorruptObject(oid, file, `it does not inflate (${(e as Error).message})`);
    }
    const nul = data.indexOf(0);
    const m = nul > 0 ? /^(commit|tree|blob|tag) (\d+)$/.exec(new TextDecoder().decode(data.subarray(0, nul))) : null;
    if (!m || Number(m[2]) !== data.length - nul - 1) throw new CorruptObject(oid, file, 'its header is malformed');
    const obj = { type: m[1] as StoredObject['type'], content: data.subarray(nul + 1) };
    const got = gitObjectSync(obj.type as GitObjectType, obj.content).oid;
    if (got !== oid) throw new CorruptObject(oid, file, `its content hashes to ${got}`);
    return obj;
  }

  /** Reads the entry at `offset` of pack `p` (resolving deltas); checks it hashes to `oid` when given. */
  async #readPacked(
    p: PackIndex,
    oid: string | undefined,
    offset: number,
    cache: Map<number, StoredObject>,
    depth = 0
  ): Promise<StoredObject> {
    const file = `objects/pack/${p.name}.pack`;
    const hit = cache.get(offset);
    if (hit && !oid) return hit;
    const name = oid ?? `at offset ${offset}`;
    if (depth > 1000) throw new CorruptObject(name, file, 'its delta chain is too deep');
    let pack: Uint8Array;
    try {
      pack = await this.#packBytes(p);
    } catch (e) {
      throw new CorruptObject(name, file, `the pack cannot be read (${(e as Error).message})`);
    }
    const body = pack.subarray(0, Math.max(0, pack.length - 20));
    const bad = (why: string) => new CorruptObject(name, file, why);
    let i = offset;
    if (i < 12 || i >= body.length) throw bad('its offset lies outside the pack');
    let c = body[i++];
    const type = (c >> 4) & 7;
    let size = c & 0x0f;
    let shift = 4;
    while (c & 0x80) {
      if (i >= body.length || shift > 49) throw bad('its entry header is malformed');
      c = body[i++];
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    let base: StoredObject | undefined;
    if (type === 6) {
      c = body[i++];
      let back = c & 0x7f;
      while (c & 0x80) {
        if (i >= body.length) throw bad('its delta header is malformed');
        c = body[i++];
        back = (back + 1) * 128 + (c & 0x7f);
      }
      if (back <= 0 || back > offset - 12) throw bad('its delta base lies outside the pack');
      base = await this.#readPacked(p, undefined, offset - back, cache, depth + 1);
    } else if (type === 7) {
      const baseOid = toHex(body.subarray(i, i + 20));
      i += 20;
      base = await this.read(baseOid);
      if (!base) throw bad(`its delta base ${baseOid} is not stored`);
    } else if (!TYPES[type]) throw bad(`its entry has type ${type}`);
    if (size > body.length * 1032 + 1024) throw bad(`its entry claims ${size} bytes`);
    let data: Uint8Array;
    try {
      data = this.#inflater.inflateAt(body, i, size).data;
    } catch (e) {
      throw bad((e as Error).message);
    }
    let obj: StoredObject;
    if (base) {
      try {
        obj = { type: base.type, content: applyDelta(base.content, data) };
      } catch (e) {
        throw bad(`its delta does not apply (${(e as Error).message})`);
      }
    } else obj = { type: TYPES[type], content: data };
    if (oid) {
      const got = gitObjectSync(obj.type as GitObjectType, obj.content).oid;
      if (got !== oid) throw bad(`its content hashes to ${got}`);
    }
    cache.set(offset, obj);
    return obj;
  }

  /** Every stored object checked; each damaged object or file reported once, by name. */
  async check(): Promise<StoreProblem[]> {
    const { fs, gitdir } = this.#b;
    const problems: StoreProblem[] = [];
    for (const d of (await fs.promises.readdir(`${gitdir}/objects`).catch(() => [] as string[])).sort()) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const f of (await fs.promises.readdir(`${gitdir}/objects/${d}`).catch(() => [] as string[])).sort()) {
        const oid = d + f;
        if (!OID_RE.test(oid)) continue; // temporary files of a write in progress
        try {
          await this.#readLoose(oid);
        } catch (e) {
          problems.push(
            e instanceof CorruptObject
              ? { oid, file: e.file, message: e.message }
              : { oid, file: `objects/${d}/${f}`, message: String(e) }
          );
        }
      }
    }
    const sha1 = await createSHA1();
    const checksum = (b: Uint8Array) => {
      sha1.init();
      sha1.update(b.subarray(0, b.length - 20));
      return sha1.digest('hex') === toHex(b.subarray(b.length - 20));
    };
    for (const p of this.#packs) {
      if (p.problem) {
        problems.push(p.problem);
        continue;
      }
      const idxFile = `objects/pack/${p.name}.idx`;
      const packFile = `objects/pack/${p.name}.pack`;
      const idx = new Uint8Array(await fs.promises.readFile(`${gitdir}/${idxFile}`));
      if (!checksum(idx))
        problems.push({
          file: idxFile,
          message: `journal file ${idxFile} is damaged: its checksum does not match its content`
        });
      let pack: Uint8Array;
      try {
        pack = await this.#packBytes(p);
      } catch (e) {
        problems.push({ file: packFile, message: `journal file ${packFile} cannot be read: ${(e as Error).message}` });
        continue;
      }
      const dv = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
      if (
        pack.length < 32 ||
        dv.getUint32(0) !== 0x5041434b ||
        dv.getUint32(4) !== 2 ||
        dv.getUint32(8) !== p.byOid.size
      ) {
        problems.push({
          file: packFile,
          message: `journal file ${packFile} is damaged: its header is not a pack of ${p.byOid.size} objects`
        });
      }
      if (!checksum(pack))
        problems.push({
          file: packFile,
          message: `journal file ${packFile} is damaged: its checksum does not match its content`
        });
      if (
        idx.length >= 40 &&
        toHex(idx.subarray(idx.length - 40, idx.length - 20)) !== toHex(pack.subarray(pack.length - 20))
      ) {
        problems.push({
          file: idxFile,
          message: `journal file ${idxFile} does not belong to ${packFile} (their pack checksums differ)`
        });
      }
      // Delta bases lie close before their deltas (ours are within a few objects): a bounded cache of the latest
      // objects read keeps check() in bounded memory whatever the pack's size; a base that left it is read again.
      const cache = boundedCache<number, StoredObject>(CHECK_CACHE);
      const ends = new Map<number, number>();
      p.offsets.forEach((o, k) => ends.set(o, p.offsets[k + 1] ?? pack.length - 20));
      const byOffset = [...p.byOid].sort((a, b) => a[1].offset - b[1].offset);
      for (const [oid, e] of byOffset) {
        const end = ends.get(e.offset)!;
        if (e.offset < 12 || end > pack.length - 20 || crc32(pack.subarray(e.offset, end)) !== e.crc) {
          problems.push({
            oid,
            file: packFile,
            message: `journal object ${oid} (${packFile}) is damaged: its bytes do not match the CRC-32 its index records`
          });
          continue;
        }
        try {
          await this.#readPacked(p, oid, e.offset, cache);
        } catch (err) {
          problems.push({ oid, file: packFile, message: (err as Error).message });
        }
      }
    }
    return problems;
  }
}
