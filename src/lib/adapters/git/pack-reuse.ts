/**
 * A push's pack made of the journal's own stored packs where it can be, as git's pack-objects reuses stored
 * data: a stored pack all of whose objects are to be sent goes as it is (its entries copied in order, so every
 * OFS_DELTA distance inside it still points at the same base; nothing is inflated, deltified or compressed
 * again), each entry first checked against the CRC-32 its index records. Only the objects of events no such pack
 * covers are built (pack-write.ts). A first push of a 100k-event journal thus costs reading its packs, not
 * rebuilding 300k objects.
 *
 *   pack   "PACK" u32(2) u32(count) { entries of reused packs }* { entries built here } sha1(all before)
 *
 * A pack that cannot be read, fails a CRC, or holds one object not to be sent is not reused: its events' objects
 * are built as any. The remote checks every object it receives (index-pack) whatever its origin.
 */
import { createSHA1 } from 'hash-wasm';
import { toHex } from '../../core/bytes.ts';
import type { GitObject } from '../../core/journal/objects.ts';
import type { GitBinding } from './binding.ts';
import { crc32 } from './pack-format.ts';
import { buildPack, type Deflate } from './pack-write.ts';

/** The three objects (commit, tree, blob) of one event to send, by id. */
export interface EventObjects {
  id: string;
  oids: string[];
}

interface StoredPack {
  name: string;
  oids: string[];
  /** Entry offsets with their CRC-32, ascending. */
  entries: Array<{ offset: number; crc: number }>;
}

function readIdx(name: string, idx: Uint8Array): StoredPack {
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  if (idx.length < 8 + 1024 + 40 || dv.getUint32(0) !== 0xff744f63 || dv.getUint32(4) !== 2)
    throw new TypeError('not a version-2 pack index');
  const n = dv.getUint32(8 + 255 * 4);
  if (idx.length !== 8 + 1024 + n * 28 + 40) throw new TypeError(`its size does not fit ${n} objects`);
  const base = 8 + 1024;
  const oids: string[] = [];
  const entries: StoredPack['entries'] = [];
  for (let i = 0; i < n; i++) {
    oids.push(toHex(idx.subarray(base + i * 20, base + i * 20 + 20)));
    const offset = dv.getUint32(base + n * 24 + i * 4);
    if (offset & 0x80000000) throw new TypeError('packs over 2 GiB are not reused');
    entries.push({ offset, crc: dv.getUint32(base + n * 20 + i * 4) });
  }
  entries.sort((a, b) => a.offset - b.offset);
  return { name, oids, entries };
}

/** The body of a stored pack (its entries, without header and trailer) when every entry passes its CRC-32. */
function checkedBody(pack: Uint8Array, p: StoredPack): Uint8Array | undefined {
  const dv = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  if (pack.length < 32 || dv.getUint32(0) !== 0x5041434b || dv.getUint32(4) !== 2 || dv.getUint32(8) !== p.oids.length)
    return undefined;
  const end = pack.length - 20;
  for (let k = 0; k < p.entries.length; k++) {
    const from = p.entries[k].offset;
    const to = p.entries[k + 1]?.offset ?? end;
    if (from < 12 || to > end || from >= to || crc32(pack.subarray(from, to)) !== p.entries[k].crc) return undefined;
  }
  if (p.entries[0]?.offset !== 12) return undefined;
  return pack.subarray(12, end);
}

/**
 * The pack (in parts, to be concatenated) holding every object of `events` (in the ledger's order), reusing the stored packs of `binding`'s
 * repository whose objects are all among them; `objects(id)` builds the objects of the others.
 */
export async function reusingPack(
  binding: GitBinding,
  events: EventObjects[],
  objects: (id: string) => Promise<GitObject[]>,
  deflate: Deflate
): Promise<{ parts: Uint8Array[]; count: number; reused: number }> {
  const wanted = new Set<string>();
  for (const e of events) for (const o of e.oids) wanted.add(o);
  const { fs, gitdir } = binding;
  const dir = `${gitdir}/objects/pack`;
  const names = (await fs.promises.readdir(dir).catch(() => [] as string[]))
    .filter((f) => /^pack-[0-9a-f]{40}\.idx$/.test(f))
    .sort();
  const bodies: Uint8Array[] = [];
  const covered = new Set<string>();
  let count = 0;
  for (const f of names) {
    try {
      const p = readIdx(f.slice(0, -4), new Uint8Array(await fs.promises.readFile(`${dir}/${f}`)));
      if (p.oids.length === 0 || !p.oids.every((o) => wanted.has(o) && !covered.has(o))) continue;
      const body = checkedBody(new Uint8Array(await fs.promises.readFile(`${dir}/${p.name}.pack`)), p);
      if (!body) continue;
      bodies.push(body);
      count += p.oids.length;
      for (const o of p.oids) covered.add(o);
    } catch {
      // Unreadable or malformed: its objects are built below.
    }
  }
  // Events whose objects the reused packs do not all hold: built here, after them (deltas point back only within
  // what is built here, so the reused entries before do not move their bases).
  const rest: GitObject[] = [];
  for (const e of events) {
    if (e.oids.length && e.oids.every((o) => covered.has(o))) continue;
    for (const o of await objects(e.id))
      if (!covered.has(o.oid)) {
        rest.push(o);
        covered.add(o.oid);
      }
  }
  if (rest.length) {
    const built = (await buildPack(rest, deflate)).pack;
    bodies.push(built.subarray(12, built.length - 20));
    count += rest.length;
  }
  const head = new Uint8Array(12);
  head.set([0x50, 0x41, 0x43, 0x4b]);
  new DataView(head.buffer).setUint32(4, 2);
  new DataView(head.buffer).setUint32(8, count);
  const sha1 = await createSHA1();
  sha1.init();
  sha1.update(head);
  for (const b of bodies) sha1.update(b);
  // The pack in parts (the caller copies them once, into its request body).
  return { parts: [head, ...bodies, sha1.digest('binary')], count, reused: count - rest.length };
}
