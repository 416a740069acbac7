/**
 * The journal's object store writer. Loose objects are written directly (the id is already known from the
 * core's SHA-1; zlib deflate from the binding; write to a temporary name, then rename where the file system
 * can), which is much faster than going through isomorphic-git. Every PACK_EVERY loose objects, pack()
 * gathers them into one packfile with deltas (pack.ts) and removes them: the journal stays well under 1 KiB
 * per event. A count of loose objects is kept in `journal-loose` beside the objects (git ignores it).
 */
import { concatBytes } from '../../core/bytes.ts';
import { objectHeader, parseTree, type GitObject, type GitObjectType } from '../../core/journal/objects.ts';
import type { GitBinding, GitZlib } from './binding.ts';
import { buildPack, idxOids } from './pack.ts';

export const PACK_EVERY = 3000;
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
      w.#loose = Number(new TextDecoder().decode(await binding.fs.promises.readFile(`${binding.gitdir}/${COUNT_FILE}`))) || 0;
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
      const tmp = `${dir}/tmp_${o.oid.slice(2, 10)}_${Math.random().toString(36).slice(2)}`;
      await fs.promises.writeFile(tmp, data);
      await rename.call(fs.promises, tmp, path);
    } else {
      await fs.promises.writeFile(path, data);
    }
    this.#loose++;
    this.#dirty = true;
  }

  /** Persists the loose count (after a batch). */
  async flush(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    await this.#b.fs.promises.writeFile(`${this.#b.gitdir}/${COUNT_FILE}`, new TextEncoder().encode(String(this.#loose)));
  }

  /** Packs when PACK_EVERY loose objects have accumulated. */
  async maybePack(): Promise<boolean> {
    if (this.#loose < PACK_EVERY) return false;
    await this.pack();
    return true;
  }

  async #readLoose(oid: string): Promise<GitObject> {
    const raw = await this.#zlib.inflate(new Uint8Array(await this.#b.fs.promises.readFile(this.#path(oid))));
    const nul = raw.indexOf(0);
    const [type] = new TextDecoder().decode(raw.subarray(0, nul)).split(' ');
    return { type: type as GitObjectType, oid, content: raw.subarray(nul + 1) };
  }

  /** Every loose object into one new pack (commits and their trees and blobs, oldest first), then removes them. */
  async pack(): Promise<void> {
    const { fs, gitdir } = this.#b;
    const oids: string[] = [];
    for (const d of await fs.promises.readdir(`${gitdir}/objects`).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const f of await fs.promises.readdir(`${gitdir}/objects/${d}`)) if (/^[0-9a-f]{38}$/.test(f)) oids.push(d + f);
    }
    if (oids.length === 0) return;
    const objects = await Promise.all(oids.map((o) => this.#readLoose(o)));
    // Order: commits by time (author line), each followed by its tree and blob, so deltas meet similar neighbours.
    const byOid = new Map(objects.map((o) => [o.oid, o]));
    const commits = objects.filter((o) => o.type === 'commit');
    const time = (c: GitObject) => /\nauthor [^\n]* (\d+) [+-]\d{4}\n/.exec(new TextDecoder().decode(c.content))?.[1] ?? '0';
    commits.sort((a, b) => Number(time(a)) - Number(time(b)));
    const ordered: GitObject[] = [];
    const placed = new Set<string>();
    const place = (o: GitObject | undefined) => {
      if (o && !placed.has(o.oid)) (placed.add(o.oid), ordered.push(o));
    };
    for (const c of commits) {
      place(c);
      const treeOid = new TextDecoder().decode(c.content.subarray(5, 45));
      const tree = byOid.get(treeOid);
      place(tree);
      if (tree) for (const e of parseTree(tree.content)) place(byOid.get(e.oid));
    }
    for (const o of objects) place(o);
    const { sha, pack, idx } = await buildPack(ordered, this.#zlib.deflate);
    await fs.promises.mkdir(`${gitdir}/objects/pack`).catch(() => undefined);
    await fs.promises.writeFile(`${gitdir}/objects/pack/pack-${sha}.pack`, pack);
    await fs.promises.writeFile(`${gitdir}/objects/pack/pack-${sha}.idx`, idx);
    this.#packOids.set(`pack-${sha}.idx`, new Set(oids));
    for (const o of oids) await fs.promises.unlink(this.#path(o)).catch(() => undefined);
    this.#loose = 0;
    this.#dirty = true;
    await this.flush();
  }

  /** True when the object is stored loose or in one of `packs` (file names in objects/pack; default all). */
  async has(oid: string, packs?: Set<string>): Promise<boolean> {
    const { fs, gitdir } = this.#b;
    try {
      await fs.promises.stat(this.#path(oid));
      return true;
    } catch {
      /* not loose */
    }
    const names = packs ?? new Set(await fs.promises.readdir(`${gitdir}/objects/pack`).catch(() => [] as string[]));
    for (const name of names) {
      if (!name.endsWith('.idx')) continue;
      let set = this.#packOids.get(name);
      if (!set) {
        try {
          set = new Set(idxOids(new Uint8Array(await fs.promises.readFile(`${gitdir}/objects/pack/${name}`))));
        } catch {
          continue;
        }
        this.#packOids.set(name, set);
      }
      if (set.has(oid)) return true;
    }
    return false;
  }
}
