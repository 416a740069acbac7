/**
 * The journal's index from event id to commit id, kept beside the objects in the bare repository as small
 * append-only files `ledger-map/NNNNNNNN` ("<event id> <commit id>\n" lines); compacted into one when they
 * pass 256. Git ignores the directory. It is a cache: `verify` checks every entry against the commits.
 */
import type { GitFs } from './binding.ts';

const DIR = 'ledger-map';
const COMPACT_AT = 256;
const LINE_RE = /^([0-9a-f]{64}) ([0-9a-f]{40})$/;

export class EventMap {
  readonly byEvent = new Map<string, string>();
  readonly byCommit = new Map<string, string>();
  #fs: GitFs;
  #dir: string;
  #files: string[] = [];

  private constructor(fs: GitFs, gitdir: string) {
    this.#fs = fs;
    this.#dir = `${gitdir}/${DIR}`;
  }

  static async load(fs: GitFs, gitdir: string): Promise<EventMap> {
    const m = new EventMap(fs, gitdir);
    let names: string[] = [];
    try {
      names = (await fs.promises.readdir(m.#dir)).filter((n) => /^\d{8}$/.test(n)).sort();
    } catch {
      await fs.promises.mkdir(m.#dir).catch(() => undefined);
    }
    for (const n of names) {
      const text = new TextDecoder().decode(await fs.promises.readFile(`${m.#dir}/${n}`));
      for (const line of text.split('\n')) {
        const r = LINE_RE.exec(line);
        if (r) m.#set(r[1], r[2]);
      }
    }
    m.#files = names;
    return m;
  }

  #set(eventId: string, oid: string) {
    this.byEvent.set(eventId, oid);
    this.byCommit.set(oid, eventId);
  }

  /** Records and persists new entries (the caller passes each event once). */
  async add(entries: Array<[eventId: string, oid: string]>): Promise<void> {
    const fresh = entries;
    if (fresh.length === 0) return;
    for (const [e, o] of fresh) this.#set(e, o);
    if (this.#files.length >= COMPACT_AT) {
      const all = [...this.byEvent].map(([e, o]) => `${e} ${o}\n`).join('');
      const name = this.#next();
      await this.#fs.promises.writeFile(`${this.#dir}/${name}`, new TextEncoder().encode(all));
      for (const f of this.#files) await this.#fs.promises.unlink(`${this.#dir}/${f}`);
      this.#files = [name];
      return;
    }
    const name = this.#next();
    await this.#fs.promises.writeFile(`${this.#dir}/${name}`, new TextEncoder().encode(fresh.map(([e, o]) => `${e} ${o}\n`).join('')));
    this.#files.push(name);
  }

  #next(): string {
    const last = this.#files.length ? Number(this.#files[this.#files.length - 1]) : 0;
    return String(last + 1).padStart(8, '0');
  }
}
