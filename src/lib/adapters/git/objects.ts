/**
 * The journal's object store writer. Loose objects are written directly (the id is already known from the
 * core's SHA-1; zlib deflate from the binding; write to a temporary name, then rename where the file system
 * can), which is much faster than going through isomorphic-git; a larger batch (group commit, catch-up, sync)
 * becomes one pack instead. repack() replaces everything with one pack with deltas (pack.ts), rebuilt by the
 * journal from the document: the journal stays under 1 KiB per event. A count of loose objects is kept in
 * `journal-loose` beside the objects (git ignores it).
 */
import { concatBytes } from '../../core/bytes.ts';
import { objectHeader, type GitObject } from '../../core/journal/objects.ts';
import type { GitBinding, GitZlib } from './binding.ts';
import { buildPack, idxOids } from './pack.ts';

export const PACK_EVERY = 3000;
/** Small packs (batches) tolerated before a repack. */
export const PACKS_EVERY = 32;
/** Batches of at least this many objects are written as a pack. */
export const BATCH_PACK_AT = 24;
const COUNT_FILE = 'journal-loose';

async function streamThrough(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = await new Response(new Blob([data as BlobPart]).stream().pipeThrough(stream)).arrayBuffer();
  return new Uint8Array(out);
}

/** zlib through the web's CompressionStream (browsers, workers, Node 18+). */
export const webZlib: GitZlib = {
  deflate: (data) => streamThrough(data, new CompressionStream('deflate')),
  inflate: (data) => streamThrough(data, new DecompressionStream('deflate'))
};

export class ObjectWriter {
  #b: GitBinding;
  #zlib: GitZlib;
  #dirs = new Set<string>();
  #loose = 0;
  #dirty = false;
  #packOids = new Map<string, Set<string>>();

  private constructor(binding: GitBinding) {
    this.#b = binding;
    this.#zlib = binding.zlib ?? webZlib;
  }

  static async open(binding: GitBinding): Promise<ObjectWriter> {
    const w = new ObjectWriter(binding);
    try {
      w.#loose =
        Number(new TextDecoder().decode(await binding.fs.promises.readFile(`${binding.gitdir}/${COUNT_FILE}`))) || 0;
    } catch {
      w.#loose = 0;
    }
    return w;
  }

  get looseCount(): number {
    return this.#loose;
  }

  #path(oid: string): string {
    return `${this.#b.gitdir}/objects/${oid.slice(0, 2)}/${oid.slice(2)}`;
  }

  async write(o: GitObject): Promise<void> {
    const { fs, gitdir } = this.#b;
    const dir = `${gitdir}/objects/${o.oid.slice(0, 2)}`;
    if (!this.#dirs.has(dir)) {
      await fs.promises.mkdir(dir).catch(() => undefined);
      this.#dirs.add(dir);
    }
    const data = await this.#zlib.deflate(concatBytes(objectHeader(o.type, o.content.length), o.content));
    const path = this.#path(o.oid);
    const rename = (fs.promises as { rename?: (a: string, b: string) => Promise<void> }).rename;
    if (rename) {
      // git's own prefix for a loose object being written: fsck passes over one that a cut-short write left.
      const tmp = `${dir}/tmp_obj_${o.oid.slice(2, 10)}_${Math.random().toString(36).slice(2)}`;
      await fs.promises.writeFile(tmp, data);
      await rename.call(fs.promises, tmp, path);
    } else {
      await fs.promises.writeFile(path, data);
    }
    this.#loose++;
    this.#dirty = true;
  }

  /**
   * Writes a batch of objects: loose when few (one append), else as one pack (a group commit, a catch-up,
   * a sync): two files instead of three per commit.
   */
  async writeBatch(objects: GitObject[]): Promise<void> {
    if (objects.length < BATCH_PACK_AT) {
      for (const o of objects) await this.write(o);
      return;
    }
    await this.#writePack(objects, false);
  }

  async #writePack(objects: GitObject[], deltas: boolean): Promise<string> {
    const { fs, gitdir } = this.#b;
    const { sha, pack, idx } = await buildPack(objects, this.#zlib.deflate, { deltas });
    await fs.promises.mkdir(`${gitdir}/objects/pack`).catch(() => undefined);
    // The pack, then its index, each written whole under a temporary name and renamed where the file system can:
    // readers go by the index, so a kill leaves no pack, a pack without its index (unread), or both whole.
    const rename = (fs.promises as { rename?: (a: string, b: string) => Promise<void> }).rename;
    for (const [ext, bytes] of [
      ['pack', pack],
      ['idx', idx]
    ] as const) {
      const file = `${gitdir}/objects/pack/pack-${sha}.${ext}`;
      if (!rename) {
        await fs.promises.writeFile(file, bytes);
        continue;
      }
      const tmp = `${gitdir}/objects/pack/tmp_pack_${Math.random().toString(36).slice(2)}`;
      await fs.promises.writeFile(tmp, bytes);
      await rename.call(fs.promises, tmp, file);
    }
    this.#packOids.set(`pack-${sha}.idx`, new Set(objects.map((o) => o.oid)));
    this.#smallPacks++;
    return `pack-${sha}`;
  }

  /**
   * Replaces every loose object and every pack with one pack of `objects` (the journal's whole content,
   * rebuilt from the document, commits oldest first each followed by its tree and blob).
   */
  async repack(objects: GitObject[]): Promise<void> {
    const { fs, gitdir } = this.#b;
    const before = await fs.promises.readdir(`${gitdir}/objects/pack`).catch(() => [] as string[]);
    const loose: string[] = [];
    for (const d of await fs.promises.readdir(`${gitdir}/objects`).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const f of await fs.promises.readdir(`${gitdir}/objects/${d}`)) loose.push(`${d}/${f}`);
    }
    const name = await this.#writePack(objects, true);
    for (const f of before) {
      if (f.startsWith(name)) continue;
      await fs.promises.unlink(`${gitdir}/objects/pack/${f}`).catch(() => undefined);
      this.#packOids.delete(f);
    }
    for (const f of loose) await fs.promises.unlink(`${gitdir}/objects/${f}`).catch(() => undefined);
    this.#loose = 0;
    this.#smallPacks = 0;
    this.#dirty = true;
    await this.flush();
  }

  /** True when enough loose objects or small packs have accumulated to repack. */
  get wantsRepack(): boolean {
    return this.#loose >= PACK_EVERY || this.#smallPacks >= PACKS_EVERY;
  }
  #smallPacks = 0;

  /** Persists the loose count (after a batch). */
  async flush(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    await this.#b.fs.promises.writeFile(
      `${this.#b.gitdir}/${COUNT_FILE}`,
      new TextEncoder().encode(String(this.#loose))
    );
  }

  /**
   * True when the object is stored loose or in one of `packs` (file names in objects/pack; default all). The
   * packs' indexes are read once and kept (a journal opened on a large ledger asks about every commit: one
   * lookup in memory each, not a file read); the directory is read again only on a miss.
   */
  async has(oid: string, packs?: Set<string>): Promise<boolean> {
    if (packs) {
      for (const name of packs) if (name.endsWith('.idx') && (await this.#packSet(name))?.has(oid)) return true;
      return this.#isLoose(oid);
    }
    if (!this.#scanned) await this.#scanPacks();
    for (const set of this.#packOids.values()) if (set.has(oid)) return true;
    if (await this.#isLoose(oid)) return true;
    await this.#scanPacks(); // a pack written since (a pull)
    for (const set of this.#packOids.values()) if (set.has(oid)) return true;
    return false;
  }

  #scanned = false;

  /**
   * Every object id stored, loose or packed, in one set: for a journal opened on a large ledger, which asks about
   * every commit at once (one directory listing per loose-object directory, each pack's index once).
   */
  async storedOids(): Promise<Set<string>> {
    const { fs, gitdir } = this.#b;
    await this.#scanPacks();
    const out = new Set<string>();
    for (const set of this.#packOids.values()) for (const o of set) out.add(o);
    for (const d of await fs.promises.readdir(`${gitdir}/objects`).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const f of await fs.promises.readdir(`${gitdir}/objects/${d}`).catch(() => [] as string[]))
        if (/^[0-9a-f]{38}$/.test(f)) out.add(d + f);
    }
    return out;
  }

  async #isLoose(oid: string): Promise<boolean> {
    try {
      await this.#b.fs.promises.stat(this.#path(oid));
      return true;
    } catch {
      return false;
    }
  }

  async #scanPacks(): Promise<void> {
    this.#scanned = true;
    const names = await this.#b.fs.promises.readdir(`${this.#b.gitdir}/objects/pack`).catch(() => [] as string[]);
    for (const name of names) if (name.endsWith('.idx')) await this.#packSet(name);
  }

  async #packSet(name: string): Promise<Set<string> | undefined> {
    let set = this.#packOids.get(name);
    if (!set) {
      try {
        set = new Set(
          idxOids(new Uint8Array(await this.#b.fs.promises.readFile(`${this.#b.gitdir}/objects/pack/${name}`)))
        );
      } catch {
        return undefined;
      }
      this.#packOids.set(name, set);
    }
    return set;
  }
}
