/**
 * The browser binding of the Git journal: a small promise file system over IndexedDB (through `idb`), enough
 * for isomorphic-git and the journal's own object writer, plus isomorphic-git's web HTTP client.
 *
 * One object store, `files`, maps an absolute path ("/journal.git/objects/pack/pack-….pack") to
 * { dir: true } or { data: Uint8Array, mtimeMs }. Directories are explicit entries; readdir lists the keys in
 * the range "<dir>/" .. "<dir>/\uffff" that have no further '/'. Errors carry Node's codes (ENOENT, EEXIST,
 * ENOTDIR, ENOTEMPTY), which isomorphic-git relies on.
 *
 * Push and pull from a browser need the Git host to answer cross-origin requests (CORS on the host, or
 * `corsProxy` pointing at a proxy such as @isomorphic-git/cors-proxy): see README.md, "Git journal in the
 * browser".
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import http from 'isomorphic-git/http/web';
import type { Credentials, GitBinding, GitFs, GitFsEncoding } from './binding.ts';
import { pakoZlib } from './inflate.ts';

interface FileEntry {
  dir?: true;
  data?: Uint8Array;
  mtimeMs: number;
}
interface FsSchema extends DBSchema {
  files: { key: string; value: FileEntry };
}

function fsError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code, path });
}

const norm = (p: string): string => {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (!s || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return '/' + parts.join('/');
};
const parentOf = (p: string): string => p.slice(0, p.lastIndexOf('/')) || '/';

function stats(e: FileEntry) {
  const isDir = !!e.dir;
  const size = e.data?.length ?? 0;
  return {
    type: isDir ? 'dir' : 'file',
    mode: isDir ? 0o40755 : 0o100644,
    size,
    ino: 0,
    uid: 1,
    gid: 1,
    dev: 1,
    mtimeMs: e.mtimeMs,
    ctimeMs: e.mtimeMs,
    mtime: new Date(e.mtimeMs),
    ctime: new Date(e.mtimeMs),
    isFile: () => !isDir,
    isDirectory: () => isDir,
    isSymbolicLink: () => false
  };
}

/** A promise fs over one IndexedDB database (created if needed). */
export async function idbFs(dbName = 'provenance-ledger-git'): Promise<GitFs & { close(): void }> {
  const db: IDBPDatabase<FsSchema> = await openDB<FsSchema>(dbName, 1, {
    upgrade(d) {
      d.createObjectStore('files');
    }
  });
  const get = (p: string) => db.get('files', p);
  const mustDir = async (p: string) => {
    if (p === '/') return;
    const e = await get(p);
    if (!e) throw fsError('ENOENT', p);
    if (!e.dir) throw fsError('ENOTDIR', p);
  };
  function readFile(path: string): Promise<Uint8Array>;
  function readFile(path: string, opts: GitFsEncoding): Promise<string>;
  async function readFile(path: string, opts?: GitFsEncoding): Promise<Uint8Array | string> {
    const p = norm(path);
    const e = await get(p);
    if (!e) throw fsError('ENOENT', p);
    if (e.dir) throw fsError('EISDIR', p);
    const enc = typeof opts === 'string' ? opts : opts?.encoding;
    return enc ? new TextDecoder().decode(e.data) : e.data!.slice();
  }
  const promises: GitFs['promises'] & { rename(a: string, b: string): Promise<void> } = {
    readFile,
    async writeFile(path: string, data: unknown) {
      const p = norm(path);
      await mustDir(parentOf(p));
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBufferLike);
      const existing = await get(p);
      if (existing?.dir) throw fsError('EISDIR', p);
      await db.put('files', { data: bytes.slice(), mtimeMs: Date.now() }, p);
    },
    async unlink(path: string) {
      const p = norm(path);
      const e = await get(p);
      if (!e) throw fsError('ENOENT', p);
      if (e.dir) throw fsError('EISDIR', p);
      await db.delete('files', p);
    },
    async readdir(path: string) {
      const p = norm(path);
      await mustDir(p);
      const prefix = p === '/' ? '/' : p + '/';
      const keys = await db.getAllKeys('files', IDBKeyRange.bound(prefix, prefix + '\uffff'));
      return keys.map((k) => k.slice(prefix.length)).filter((k) => k && !k.includes('/'));
    },
    async mkdir(path: string) {
      const p = norm(path);
      if (await get(p)) throw fsError('EEXIST', p);
      await mustDir(parentOf(p));
      await db.put('files', { dir: true, mtimeMs: Date.now() }, p);
    },
    async rmdir(path: string) {
      const p = norm(path);
      await mustDir(p);
      if ((await promises.readdir(p)).length) throw fsError('ENOTEMPTY', p);
      await db.delete('files', p);
    },
    async stat(path: string) {
      const p = norm(path);
      const e = p === '/' ? { dir: true as const, mtimeMs: 0 } : await get(p);
      if (!e) throw fsError('ENOENT', p);
      return stats(e);
    },
    async lstat(path: string) {
      return promises.stat(path);
    },
    async readlink(path: string) {
      throw fsError('EINVAL', norm(path)); // no symbolic links here
    },
    async symlink(_target: string, path: string) {
      throw fsError('EPERM', norm(path));
    },
    async chmod() {
      /* modes are not kept */
    },
    async rename(from: string, to: string) {
      const a = norm(from);
      const b = norm(to);
      const tx = db.transaction('files', 'readwrite');
      const e = await tx.store.get(a);
      if (!e || e.dir) throw fsError('ENOENT', a);
      await tx.store.put(e, b);
      await tx.store.delete(a);
      await tx.done;
    }
  };
  // isomorphic-git creates missing parent directories itself (mkdir of each level), so "/" is the only root.
  return { promises, close: () => db.close() };
}

/** The journal's binding in the browser: IndexedDB, isomorphic-git's fetch-based HTTP client, pako's zlib. */
export async function browserBinding(
  opts: {
    dbName?: string;
    credentials?: (url: string) => Promise<Credentials | undefined>;
    corsProxy?: string;
  } = {}
): Promise<GitBinding> {
  return {
    fs: await idbFs(opts.dbName),
    gitdir: '/journal.git',
    http,
    credentials: opts.credentials,
    corsProxy: opts.corsProxy,
    zlib: pakoZlib
  };
}
