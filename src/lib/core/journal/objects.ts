/**
 * Git object bytes and ids (SHA-1, as Git names objects: the ledger's own SHA-256 ids stay inside the
 * committed content). Pure: hash-wasm's SHA-1 (synchronous once initSha1() was awaited), in the browser and
 * in Node.
 */
import { createSHA1, type IHasher } from 'hash-wasm';
import { concatBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { ErrorCode, LedgerError } from '../errors.ts';

let sha1h: IHasher | undefined;
let sha1Ready: Promise<IHasher> | undefined;

/** Must be awaited once before gitObjectSync (gitObject does it). */
export function initSha1(): Promise<IHasher> {
  if (sha1h) return Promise.resolve(sha1h);
  sha1Ready ??= createSHA1().then((h) => (sha1h = h));
  return sha1Ready;
}

export type GitObjectType = 'blob' | 'tree' | 'commit';

/** A Git object id: 40 lowercase hex digits. */
export type CommitOid = string & { readonly __commitOid: true };
export const OID_RE = /^[0-9a-f]{40}$/;

export interface GitObject {
  type: GitObjectType;
  oid: string;
  /** The content, without the "type len\0" header. */
  content: Uint8Array;
}

/** The object header "type len\0". */
export const objectHeader = (type: GitObjectType, length: number): Uint8Array => utf8(`${type} ${length}\0`);

export function gitObjectSync(type: GitObjectType, content: Uint8Array): GitObject {
  if (!sha1h) throw new Error('initSha1() was not awaited');
  sha1h.init();
  sha1h.update(`${type} ${content.length}\0`); // objectHeader's bytes (ASCII)
  sha1h.update(content);
  return { type, oid: sha1h.digest('hex'), content };
}

/** Reused for the UTF-8 bytes of the texts gitObjectOfText hashes (grown when one is longer). */
let scratch = new Uint8Array(4096);
const encoder = new TextEncoder();

/**
 * The object whose content is `text` in UTF-8 (sync, as gitObjectSync): hashed from the text encoded into a
 * reused buffer, its bytes copied out only when `content` is read (checking a commit needs its id, not its bytes).
 */
export function gitObjectOfText(type: GitObjectType, text: string): GitObject {
  if (!sha1h) throw new Error('initSha1() was not awaited');
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3); // UTF-8: at most 3 bytes a unit
  const { written } = encoder.encodeInto(text, scratch);
  sha1h.init();
  sha1h.update(`${type} ${written}\0`);
  sha1h.update(scratch.subarray(0, written));
  let content: Uint8Array | undefined;
  return {
    type,
    oid: sha1h.digest('hex'),
    get content() {
      return (content ??= utf8(text));
    }
  };
}

export async function gitObject(type: GitObjectType, content: Uint8Array): Promise<GitObject> {
  await initSha1();
  return gitObjectSync(type, content);
}

export interface TreeEntry {
  mode: '100644' | '40000';
  name: string;
  oid: string;
}

/** Tree content; entries must already be in Git's order (this journal writes one-entry trees). */
export function treeContent(entries: TreeEntry[]): Uint8Array {
  return concatBytes(...entries.flatMap((e) => [utf8(`${e.mode} ${e.name}\0`), fromHex(e.oid)]));
}

/** Parses tree content; throws a LedgerError (JOURNAL_CORRUPT) on anything malformed (the bytes may come from a hostile remote). */
export function parseTree(content: Uint8Array): TreeEntry[] {
  const out: TreeEntry[] = [];
  let i = 0;
  while (i < content.length) {
    const sp = content.indexOf(0x20, i);
    const nul = content.indexOf(0, sp + 1);
    if (sp < 0 || nul < 0 || nul + 21 > content.length)
      throw new LedgerError(ErrorCode.JOURNAL_CORRUPT, 'malformed tree');
    const mode = new TextDecoder().decode(content.subarray(i, sp));
    const name = new TextDecoder().decode(content.subarray(sp + 1, nul));
    out.push({ mode: mode as TreeEntry['mode'], name, oid: toHex(content.subarray(nul + 1, nul + 21)) });
    i = nul + 21;
  }
  return out;
}

export interface ParsedCommit {
  tree: string;
  parents: string[];
  author: string;
  committer: string;
  /** The armored signature from the gpgsig header, if any. */
  gpgsig?: string;
  message: string;
  /** Header names in order, as found (for strictness checks). */
  headers: string[];
}

/** Parses commit content (headers with continuation lines, a blank line, the message). */
export function parseCommit(content: Uint8Array): ParsedCommit {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  const end = text.indexOf('\n\n');
  if (end < 0) throw new LedgerError(ErrorCode.JOURNAL_CORRUPT, 'malformed commit: no message separator');
  const lines = text.slice(0, end).split('\n');
  const c: ParsedCommit = {
    tree: '',
    parents: [],
    author: '',
    committer: '',
    message: text.slice(end + 2),
    headers: []
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const sp = line.indexOf(' ');
    if (sp <= 0) throw new LedgerError(ErrorCode.JOURNAL_CORRUPT, `malformed commit header line ${i + 1}`);
    const key = line.slice(0, sp);
    let value = line.slice(sp + 1);
    while (i + 1 < lines.length && lines[i + 1].startsWith(' ')) value += '\n' + lines[++i].slice(1);
    c.headers.push(key);
    if (key === 'tree') c.tree = value;
    else if (key === 'parent') c.parents.push(value);
    else if (key === 'author') c.author = value;
    else if (key === 'committer') c.committer = value;
    else if (key === 'gpgsig') c.gpgsig = value;
  }
  if (!OID_RE.test(c.tree) || !c.parents.every((p) => OID_RE.test(p)))
    throw new LedgerError(ErrorCode.JOURNAL_CORRUPT, 'malformed commit: bad tree or parent id');
  return c;
}
