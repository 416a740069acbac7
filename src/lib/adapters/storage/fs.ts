/**
 * Directory storage for Node (the CLI). Layout: key ["a", "b", "c"] is the file `<dir>/a/b/c+`.
 *
 * The `+` on value files is not a key character, so a key and a longer key that extends it (["a"] and
 * ["a", "b"]: file `a+` and directory `a/`) live side by side, and no stray file can pass for a value: only
 * `<valid part>+` files are values; everything else (temp files, editor droppings, symlinks) is ignored.
 *
 * save() writes `.<file>.<random>.tmp` in the target's directory (mode 0600), fsyncs it, renames it over the
 * target and fsyncs the directory, so a process killed at any moment leaves the old value or the new one.
 * `durable: false` skips both fsyncs: still atomic against a killed process, not against power loss.
 * Temp files a crash leaves behind are ignored, and removed by open() once older than `staleTempMs` (a younger
 * one may belong to another process saving into the same directory right now), only in the key folders that
 * `sweep` names (see FsStorageOptions).
 *
 * Directories are created 0700: the ledger directory holds a private key. Case-insensitive file systems (macOS,
 * Windows defaults) fold keys that differ only in letter case onto one file: keep key parts single-case there.
 */
import { randomBytes } from 'node:crypto';
import * as fsCb from 'node:fs';
import { constants, lstat, mkdir, open, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  assertBytes,
  assertKey,
  compareKeys,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey
} from '../../core/storage.ts';

export interface FsStorageOptions {
  /** fsync each written file before its rename, and the directory after it. Default true. */
  durable?: boolean;
  /** open() removes temp files older than this many milliseconds. Default 60 000. */
  staleTempMs?: number;
  /**
   * The top-level key folders in which open() removes stale temp files (files named as save() names its temp
   * files, nothing else): the sweep enters no other folder, and no symbolic link. Default: every key folder,
   * for a directory that is this storage's alone; `[]`: no sweep (a reader that must not write).
   */
  sweep?: readonly string[];
}

const VALUE_SUFFIX = '+';
const TEMP_FILE = /^\.[A-Za-z0-9._-]+\+\.[0-9a-f]{16}\.tmp$/;
const CONCURRENCY = 32;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

export class FsStorage implements StorageAdapter {
  /** Absolute path of the storage directory. */
  readonly dir: string;
  readonly durable: boolean;

  private constructor(dir: string, durable: boolean) {
    this.dir = dir;
    this.durable = durable;
  }

  /** Creates the directory (0700) if needed and removes stale temp files. */
  static async open(dir: string, options: FsStorageOptions = {}): Promise<FsStorage> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('FsStorage needs a directory path');
    const root = path.resolve(dir);
    await mkdir(root, { recursive: true, mode: DIR_MODE });
    const storage = new FsStorage(root, options.durable ?? true);
    await storage.#removeStaleTemps(options.staleTempMs ?? 60_000, options.sweep);
    return storage;
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    assertKey(key);
    return readValue(this.#file(key));
  }

  /** When the value was last written (ms since the epoch); undefined when there is none. */
  async modifiedAt(key: StorageKey): Promise<number | undefined> {
    assertKey(key);
    try {
      return (await lstat(this.#file(key))).mtimeMs;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    assertKey(key);
    assertBytes(data);
    await this.#write(key, data);
  }

  async remove(key: StorageKey): Promise<void> {
    assertKey(key);
    if (await this.#unlink(key)) await this.#syncDir(key.slice(0, -1));
    await this.#prune(key.slice(0, -1));
  }

  async loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    assertKey(prefix, true);
    const { keys } = await this.#walk(prefix);
    const values = await mapLimit(keys, CONCURRENCY, (key) => readValue(this.#file(key)));
    const chunks: StorageChunk[] = [];
    for (let i = 0; i < keys.length; i++) {
      const data = values[i];
      if (data) chunks.push({ key: keys[i], data }); // a value removed since the listing is simply absent
    }
    return chunks;
  }

  async listKeys(prefix: StorageKey): Promise<StorageKey[]> {
    assertKey(prefix, true);
    return (await this.#walk(prefix)).keys;
  }

  /** Removes every value under prefix, then the directories left empty (never the storage directory). */
  async removeRange(prefix: StorageKey): Promise<void> {
    assertKey(prefix, true);
    const { keys, dirs } = await this.#walk(prefix);
    const removed = await mapLimit(keys, CONCURRENCY, (key) => this.#unlink(key));
    const touched = new Map(keys.filter((_, i) => removed[i]).map((k) => [k.slice(0, -1).join('/'), k.slice(0, -1)]));
    for (const parts of dirs.sort((a, b) => b.length - a.length)) {
      if (await this.#rmdir(parts)) touched.delete(parts.join('/'));
    }
    for (const parts of touched.values()) await this.#syncDir(parts);
    await this.#prune(prefix.slice(0, -1));
  }

  /** Each write is atomic; writes go first (the last write to a key wins), then removals. */
  async saveMany(writes: StorageChunk[], removals: StorageKey[] = []): Promise<void> {
    for (const w of writes) {
      assertKey(w?.key);
      assertBytes(w.data);
    }
    for (const k of removals) assertKey(k);
    const last = new Map(writes.map((w) => [w.key.join('/'), w] as const));
    await mapLimit([...last.values()], CONCURRENCY, (w) => this.#write(w.key, w.data));
    await mapLimit(removals, CONCURRENCY, (k) => this.remove(k));
  }

  #path(parts: StorageKey): string {
    return path.join(this.dir, ...parts);
  }

  #file(key: StorageKey): string {
    return path.join(this.dir, ...key.slice(0, -1), key[key.length - 1] + VALUE_SUFFIX);
  }

  async #write(key: StorageKey, data: Uint8Array): Promise<void> {
    const parent = key.slice(0, -1);
    const dir = this.#path(parent);
    const name = key[key.length - 1] + VALUE_SUFFIX;
    // The directory usually exists: make it only when open says it is missing. A concurrent remove may prune
    // it again between mkdir and open, hence the loop.
    for (let attempt = 1; ; attempt++) {
      const tmp = path.join(dir, `.${name}.${randomBytes(8).toString('hex')}.tmp`);
      let fd: number;
      try {
        if (attempt > 1) await this.#mkdirs(parent);
        fd = await fdOpen(tmp, 'wx', FILE_MODE);
      } catch (e) {
        if (errno(e) === 'ENOENT' && attempt < 5) continue;
        throw e;
      }
      try {
        try {
          await fdWriteAll(fd, data);
          if (this.durable) await fdSync(fd);
        } finally {
          await fdClose(fd);
        }
        await rename(tmp, path.join(dir, name));
      } catch (e) {
        await rm(tmp, { force: true }).catch(() => {});
        throw e;
      }
      if (this.durable) await syncDir(dir);
      return;
    }
  }

  async #mkdirs(parts: StorageKey): Promise<void> {
    if (parts.length === 0) return;
    const target = this.#path(parts);
    const first = await mkdir(target, { recursive: true, mode: DIR_MODE });
    if (!first || !this.durable) return;
    // Make the new directories durable: each one is an entry in its parent.
    for (let d = target; path.dirname(d) !== d; d = path.dirname(d)) {
      await syncDir(path.dirname(d));
      if (d === first) break;
    }
  }

  /** Removes a value file; true if there was one. */
  async #unlink(key: StorageKey): Promise<boolean> {
    try {
      await unlink(this.#file(key));
      return true;
    } catch (e) {
      if (isMissing(e) || errno(e) === 'EISDIR') return false;
      throw e;
    }
  }

  /** fsyncs the directory for parts when durable; a directory gone meanwhile is fine. */
  async #syncDir(parts: StorageKey): Promise<void> {
    if (this.durable) await syncDir(this.#path(parts)).catch(ignoreMissing);
  }

  /** Removes the directory for parts if empty; true if it is gone. */
  async #rmdir(parts: StorageKey): Promise<boolean> {
    if (parts.length === 0) return false;
    try {
      await rmdir(this.#path(parts));
    } catch (e) {
      if (isMissing(e)) return true;
      if (errno(e) === 'ENOTEMPTY' || errno(e) === 'EEXIST') return false;
      throw e;
    }
    await this.#syncDir(parts.slice(0, -1));
    return true;
  }

  /** Removes parts' directory and its ancestors while they are empty. */
  async #prune(parts: StorageKey): Promise<void> {
    for (let n = parts.length; n > 0; n--) if (!(await this.#rmdir(parts.slice(0, n)))) return;
  }

  /**
   * Every value key under prefix (sorted) and every directory visited (prefix's own included). Symlinks are
   * never followed, in the prefix itself either, so removeRange cannot reach outside the storage directory.
   */
  async #walk(prefix: StorageKey): Promise<{ keys: StorageKey[]; dirs: StorageKey[] }> {
    const keys: StorageKey[] = [];
    const dirs: StorageKey[] = [];
    for (let n = 1; n < prefix.length; n++) {
      if (!(await isDirectory(this.#path(prefix.slice(0, n))))) return { keys, dirs };
    }
    if (prefix.length > 0 && (await isRegularFile(this.#file(prefix)))) keys.push([...prefix]);
    if (prefix.length > 0 && !(await isDirectory(this.#path(prefix)))) return { keys, dirs };
    if (prefix.length > 0) dirs.push([...prefix]);
    await this.#visit(prefix, (parts, name, kind) => {
      if (kind === 'dir') dirs.push([...parts, name]);
      else if (name.endsWith(VALUE_SUFFIX) && isKeyPart(name.slice(0, -1))) keys.push([...parts, name.slice(0, -1)]);
    });
    return { keys: keys.sort(compareKeys), dirs };
  }

  /** Breadth-first over directories with valid key-part names; calls onEntry for each file and directory. */
  async #visit(
    start: StorageKey,
    onEntry: (parts: StorageKey, name: string, kind: 'file' | 'dir') => void
  ): Promise<void> {
    let frontier: StorageKey[] = [start];
    while (frontier.length > 0) {
      const next: StorageKey[] = [];
      await mapLimit(frontier, CONCURRENCY, async (parts) => {
        let entries;
        try {
          entries = await readdir(this.#path(parts), { withFileTypes: true });
        } catch (e) {
          if (isMissing(e)) return;
          throw e;
        }
        for (const entry of entries) {
          if (entry.isFile()) onEntry(parts, entry.name, 'file');
          else if (entry.isDirectory() && isKeyPart(entry.name)) {
            onEntry(parts, entry.name, 'dir');
            next.push([...parts, entry.name]);
          }
        }
      });
      frontier = next;
    }
  }

  async #removeStaleTemps(maxAgeMs: number, folders?: readonly string[]): Promise<void> {
    const stale: string[] = [];
    const onEntry = (parts: StorageKey, name: string, kind: 'file' | 'dir') => {
      if (kind === 'file' && TEMP_FILE.test(name)) stale.push(path.join(this.#path(parts), name));
    };
    if (!folders) await this.#visit([], onEntry);
    for (const f of folders ?? [])
      if (isKeyPart(f) && (await isDirectory(this.#path([f])))) await this.#visit([f], onEntry);
    const cutoff = Date.now() - maxAgeMs;
    await mapLimit(stale, CONCURRENCY, async (file) => {
      try {
        if ((await lstat(file)).mtimeMs <= cutoff) await rm(file, { force: true });
      } catch (e) {
        ignoreMissing(e);
      }
    });
  }
}

function isKeyPart(name: string): boolean {
  try {
    assertKey([name]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a whole regular file into a Uint8Array; undefined if there is none. Symlinks are not followed, a FIFO
 * does not block. The callback readFile is used because it is several times faster than the promise API for
 * small files (one thread-pool round trip per step, no FileHandle bookkeeping).
 */
function readValue(file: string): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    // Node accepts numeric flags here (stringToFlags passes numbers through); @types/node only lists strings.
    fsCb.readFile(file, { flag: READ_FLAGS as unknown as string }, (e, buf) => {
      if (!e) resolve(asPlainBytes(buf));
      else if (isMissing(e) || e.code === 'ELOOP' || e.code === 'EISDIR' || e.code === 'EAGAIN') resolve(undefined);
      else reject(e);
    });
  });
}

/** A Uint8Array over exactly buf's bytes (copied if buf shares a larger pool buffer). */
function asPlainBytes(buf: Buffer): Uint8Array {
  return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
    ? new Uint8Array(buf.buffer, 0, buf.byteLength)
    : new Uint8Array(buf);
}

async function isRegularFile(file: string): Promise<boolean> {
  try {
    return (await lstat(file)).isFile();
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await lstat(dir)).isDirectory();
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
}

// Small wrappers over the callback API: for many small files it is markedly faster than FileHandle.
type Done<T> = (e: NodeJS.ErrnoException | null, value: T) => void;
function call<T>(start: (done: Done<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((e, value) => (e ? reject(e) : resolve(value))));
}
const fdOpen = (file: string, flags: string, mode: number) => call<number>((d) => fsCb.open(file, flags, mode, d));
const fdSync = (fd: number) => call<void>((d) => fsCb.fsync(fd, (e) => d(e, undefined)));
const fdClose = (fd: number) => call<void>((d) => fsCb.close(fd, (e) => d(e, undefined)));
async function fdWriteAll(fd: number, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) {
    off += await call<number>((d) => fsCb.write(fd, data, off, data.length - off, null, d));
  }
}

/** fsync a directory so the entries created, renamed or removed in it survive power loss. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function isMissing(e: unknown): boolean {
  return errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR';
}

function ignoreMissing(e: unknown): void {
  if (!isMissing(e)) throw e;
}

/** Runs fn over items with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
