/**
 * The journal's index from event id to commit id. The journal is a function of the document, so every commit
 * id can be computed from the ledger (Ledger.commitOf), but computing them all costs about half a second at
 * 10,000 events, in every process. So the ids written are also remembered in a cache beside the repository,
 * `journal-commits/` next to `journal.git` (DIR/journal-commits for the CLI; not part of the Git repository:
 * deleting it only costs that half second), and registered at attach as hints for the ledger's commit ids
 * (core/journal/signatures.ts, commitHints): a hint is used only while the event's stored signature is the one
 * it was made with, is checked before anything is signed over it, and verify never uses hints.
 *
 *   journal-commits/<seq>   "provenance-ledger journal commit ids 1\n"
 *                           "ledger <ledger id>\n"
 *                           "<event id> <first 16 chars of its signature> <commit id>\n" …
 *                           "sha256 <hex of every byte before this line>\n"
 *
 * One file per written batch, named by a growing sequence number; past FOLD_AT files they are folded into one.
 * A file that is damaged or belongs to another ledger is removed (its ids are computed again).
 * An event counts as written when the object store holds its commit.
 */
import type { Ledger } from '../../core/ledger.ts';
import { sha256Hex } from '../../core/hash.ts';
import { utf8 } from '../../core/bytes.ts';
import { commitHints, HINT_SIG_CHARS } from '../../core/journal/signatures.ts';
import type { GitBinding } from './binding.ts';
import type { ObjectWriter } from './objects.ts';

export const HINTS_DIR = 'journal-commits';

/** Where the commit-id cache of a journal lives: beside its gitdir (DIR/journal.git -> DIR/journal-commits). */
export const hintsDir = (binding: GitBinding): string => `${binding.gitdir.replace(/\/[^/]*$/, '')}/${HINTS_DIR}`;
const MAGIC = 'provenance-ledger journal commit ids 1';
const FOLD_AT = 64;
const LINE_RE = /^([0-9a-f]{64}) ([A-Za-z0-9_-]{16}) ([0-9a-f]{40})$/;

export class EventMap {
  readonly byEvent = new Map<string, string>();
  readonly byCommit = new Map<string, string>();
  #b!: GitBinding;
  #ledger!: Ledger;
  #files: string[] = [];
  #seq = 0;
  /** Events whose ids came from the file at load (the rest were computed). */
  hinted = 0;

  static async load(binding: GitBinding, ledger: Ledger, objects: ObjectWriter): Promise<EventMap> {
    const m = new EventMap();
    m.#b = binding;
    m.#ledger = ledger;
    const { fs, gitdir } = binding;
    const dir = hintsDir(binding);
    const hints: Array<{ id: string; sig: string; oid: string }> = [];
    for (const f of (await fs.promises.readdir(dir).catch(() => [] as string[])).sort()) {
      if (!/^\d{12}$/.test(f)) {
        await fs.promises.unlink(`${dir}/${f}`).catch(() => undefined); // a write cut short
        continue;
      }
      const lines = await readHintFile(binding, `${dir}/${f}`, ledger.id);
      if (!lines) {
        await fs.promises.unlink(`${dir}/${f}`).catch(() => undefined);
        continue;
      }
      for (const l of lines) hints.push(l);
      m.#files.push(f);
      m.#seq = Math.max(m.#seq, Number(f));
    }
    commitHints.add(hints);
    const fromFile = new Set(hints.map((h) => h.id));
    const fresh: string[] = [];
    const stored = await objects.storedOids();
    for (const ev of ledger.events()) {
      const oid = ledger.commitOf(ev.id);
      if (!oid || !stored.has(oid)) continue;
      m.#set(ev.id, oid);
      if (fromFile.has(ev.id)) m.hinted++;
      else fresh.push(ev.id);
    }
    if (fresh.length) await m.#persist(fresh);
    // Journals written before kept a `ledger-map/` directory: it is removed.
    const old = `${gitdir}/ledger-map`;
    for (const f of await fs.promises.readdir(old).catch(() => [] as string[]))
      await fs.promises.unlink(`${old}/${f}`).catch(() => undefined);
    await fs.promises.rmdir(old).catch(() => undefined);
    return m;
  }

  #set(eventId: string, oid: string) {
    this.byEvent.set(eventId, oid);
    this.byCommit.set(oid, eventId);
  }

  /** Records entries whose objects were just written, and remembers their ids. */
  async add(entries: Array<[eventId: string, oid: string]>): Promise<void> {
    for (const [e, o] of entries) this.#set(e, o);
    if (entries.length) await this.#persist(entries.map(([e]) => e));
  }

  async #persist(ids: string[]): Promise<void> {
    const { fs } = this.#b;
    const dir = hintsDir(this.#b);
    await fs.promises.mkdir(dir).catch(() => undefined);
    const fold = this.#files.length + 1 > FOLD_AT;
    const list = fold ? [...this.byEvent.keys()] : ids;
    const lines: string[] = [];
    const added: Array<{ id: string; sig: string; oid: string }> = [];
    for (const id of list) {
      const sig = this.#ledger.journalSignature(id);
      const oid = this.byEvent.get(id);
      if (!sig || !oid) continue;
      lines.push(`${id} ${sig.slice(0, HINT_SIG_CHARS)} ${oid}\n`);
      added.push({ id, sig, oid });
    }
    if (!lines.length) return;
    const name = String(++this.#seq).padStart(12, '0');
    const body = `${MAGIC}\nledger ${this.#ledger.id}\n${lines.join('')}`;
    const text = `${body}sha256 ${await sha256Hex(utf8(body))}\n`;
    await writeAtomic(this.#b, `${dir}/${name}`, text);
    commitHints.add(added);
    if (fold) {
      for (const f of this.#files) await fs.promises.unlink(`${dir}/${f}`).catch(() => undefined);
      this.#files = [];
    }
    this.#files.push(name);
  }
}

async function writeAtomic(binding: GitBinding, path: string, text: string): Promise<void> {
  const { fs } = binding;
  const rename = (fs.promises as { rename?: (a: string, b: string) => Promise<void> }).rename;
  if (!rename) return fs.promises.writeFile(path, utf8(text));
  await fs.promises.writeFile(`${path}.tmp`, utf8(text));
  await rename.call(fs.promises, `${path}.tmp`, path);
}

/** The entries of one hint file, or undefined when it is damaged or belongs to another ledger. */
async function readHintFile(
  binding: GitBinding,
  path: string,
  ledgerId: string
): Promise<Array<{ id: string; sig: string; oid: string }> | undefined> {
  let text: string;
  try {
    const b = await binding.fs.promises.readFile(path);
    text = typeof b === 'string' ? b : new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
  const end = text.lastIndexOf('sha256 ');
  if (end < 0 || !text.endsWith('\n')) return undefined;
  const body = text.slice(0, end);
  if (text.slice(end + 7, -1) !== (await sha256Hex(utf8(body)))) return undefined;
  const lines = body.split('\n');
  if (lines[0] !== MAGIC || lines[1] !== `ledger ${ledgerId}`) return undefined;
  const out: Array<{ id: string; sig: string; oid: string }> = [];
  for (const line of lines.slice(2)) {
    if (!line) continue;
    const m = LINE_RE.exec(line);
    if (!m) return undefined;
    out.push({ id: m[1], sig: m[2], oid: m[3] });
  }
  return out;
}
