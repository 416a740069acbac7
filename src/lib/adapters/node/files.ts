/**
 * Files on disk as the ledger sees them: read, hashed locally (streamed: memory stays flat for a 2 GB model)
 * and described as FileRefs. Nothing is uploaded anywhere; only name, format, size and SHA-256 are kept.
 *
 * A file is read through one open descriptor, and its identity and time stamps are compared before and after
 * (readStable): a file written to, replaced or moved while it is read is refused with FILE_CHANGED, never
 * recorded with a hash of neither version. File names given on the command line that are not valid UTF-8 are
 * opened by their bytes (nativePath), so such a file is found; the name recorded is those bytes decoded with
 * U+FFFD for each invalid sequence, and messages show the bytes escaped (`\xff`).
 */
import * as fsCb from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import type { FileRef } from '../../core/types.ts';

const CHUNK = 1 << 20;

/** Media types for the formats we know; others are left out (the field is optional). */
const MEDIA_TYPES: Record<string, string> = {
  glb: 'model/gltf-binary',
  gltf: 'model/gltf+json',
  obj: 'model/obj',
  mtl: 'model/mtl',
  stl: 'model/stl',
  usdz: 'model/vnd.usdz+zip',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  ktx2: 'image/ktx2',
  txt: 'text/plain',
  html: 'text/html',
  htm: 'text/html',
  pdf: 'application/pdf',
  json: 'application/json',
  zip: 'application/zip',
  eml: 'message/rfc822'
};

/** The lowercase extension of a file name, as the schema's fileFormat wants it ("other" when there is none). */
export function formatOf(file: string): string {
  const ext = path.extname(file).slice(1).toLowerCase();
  return /^[a-z0-9]{1,16}$/.test(ext) ? ext : 'other';
}

export function mediaTypeOf(file: string): string | undefined {
  return MEDIA_TYPES[formatOf(file)];
}

/**
 * Checks that `file` is a regular file this process can read, and says clearly what is wrong otherwise
 * (missing, a directory, a dangling symbolic link, no permission). Throws LedgerError BAD_INPUT.
 */
export async function assertReadableFile(name: string, what = 'file'): Promise<number> {
  const native = nativePath(name);
  const file = shownPath(name);
  let st;
  try {
    st = await stat(native);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const dangling = await lstat(native).then(
        (l) => l.isSymbolicLink(),
        () => false
      );
      throw badInput(
        dangling ? `${what} ${file} is a symbolic link to a file that does not exist` : `${what} not found: ${file}`
      );
    }
    if (code === 'EACCES' || code === 'EPERM') throw badInput(`cannot read ${what} ${file}: permission denied`);
    if (code === 'ELOOP') throw badInput(`${what} ${file} is a symbolic link loop`);
    throw badInput(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw badInput(`${what} ${file} is a directory, not a file`);
  if (!st.isFile()) throw badInput(`${what} ${file} is not a regular file`);
  return st.size;
}

/** Reads a whole (small) file, with the same clear errors; FILE_CHANGED if it changed while read (readStable). */
export async function readInputFile(
  file: string,
  what = 'file',
  opts: { onProgress?: HashProgress; racyMs?: number } = {}
): Promise<Uint8Array> {
  return (await readStable(file, what, { collect: true, ...opts })).bytes!;
}

/** Reads a UTF-8 text file strictly (invalid UTF-8 is an error, not replacement characters). */
export async function readTextFile(file: string, what = 'file'): Promise<string> {
  const bytes = await readInputFile(file, what);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badInput(`${what} ${shownPath(file)} is not UTF-8 text`);
  }
}

/** Reads all of stdin as strict UTF-8 (for `--prompt-file -`: the prompt never appears in the process list). */
export async function readStdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw badInput('the prompt on stdin is not UTF-8 text');
  }
}

export interface HashProgress {
  (file: string, done: number, total: number): void;
}

/**
 * SHA-256 and size of a file, streamed from disk in 1 MiB chunks. Throws FILE_CHANGED when the file changed
 * while it was read (see readStable); `racyMs` is for tests (default RACY_MS).
 */
export async function hashFile(
  file: string,
  onProgress?: HashProgress,
  opts: { racyMs?: number } = {}
): Promise<{ sha256: string; size: number }> {
  const { sha256, size } = await readStable(file, 'file', { onProgress, racyMs: opts.racyMs });
  return { sha256, size };
}

/**
 * A change made to a file within this long after its time stamps may leave them as they were (file systems
 * stamp in ticks: 1-10 ms for local Linux ones, 2 s for FAT and some network file systems). A file whose
 * modification or change time is this close to the start of a read (or in the future) is read twice, and
 * refused unless both reads agree.
 */
export const RACY_MS = 2000;

/** What identifies one version of a file: device, inode, size, modification and change time (ns). */
function sameVersion(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/**
 * Reads a regular file through one descriptor, hashing it (and keeping its bytes when `collect`), and checks it
 * did not change meanwhile: the descriptor's fstat before and after the read, and the path's stat after it (a
 * file replaced or moved at the path), must name the same version (sameVersion), and the bytes read must be
 * exactly its size. A file stamped within `racyMs` of the start is read a second time and both hashes must
 * agree. Any difference is FILE_CHANGED: nothing is done with a hash of neither version.
 */
async function readStable(
  name: string,
  what: string,
  opts: { collect?: boolean; onProgress?: HashProgress; racyMs?: number }
): Promise<{ sha256: string; size: number; bytes?: Uint8Array }> {
  await assertReadableFile(name, what);
  const native = nativePath(name);
  const shown = shownPath(name);
  const fail = (e: unknown): never => {
    if (e instanceof LedgerError) throw e;
    throw badInput(`cannot read ${what} ${shown}: ${(e as Error).message}`);
  };
  const changed = (how: string) =>
    new LedgerError(
      ErrorCode.FILE_CHANGED,
      `${what} ${shown} changed while it was being read (${how}): its hash would be of neither version, so nothing was done with it; try again once nothing is writing it`
    );
  const fd = await call<number>((d) =>
    fsCb.open(native, fsCb.constants.O_RDONLY | (fsCb.constants.O_NONBLOCK ?? 0), d)
  ).catch(fail);
  try {
    const before = await fdStat(fd).catch(fail);
    if (!before.isFile()) throw badInput(`${what} ${shown} is not a regular file`);
    const total = Number(before.size);
    const start = Date.now();
    const check = async (read: number) => {
      const after = await fdStat(fd).catch(fail);
      const atPath = await stat(native, { bigint: true }).catch(() => undefined);
      if (!atPath) throw changed('it was moved or deleted');
      if (atPath.dev !== before.dev || atPath.ino !== before.ino) throw changed('another file took its place');
      if (after.size !== before.size) throw changed(`its size went from ${total} to ${after.size} bytes`);
      if (read !== total) throw changed(`${read} bytes read of its ${total}`);
      if (!sameVersion(before, after) || !sameVersion(before, atPath)) throw changed('it was written to');
    };
    const progress = opts.onProgress && ((done: number) => opts.onProgress!(name, done, total));
    const first = await readPass(fd, opts.collect === true, progress).catch(fail);
    await check(first.size);
    const stamped = Number((before.mtimeNs > before.ctimeNs ? before.mtimeNs : before.ctimeNs) / 1_000_000n);
    if (stamped > start - (opts.racyMs ?? RACY_MS)) {
      const second = await readPass(fd, false, progress).catch(fail);
      await check(second.size);
      if (second.sha256 !== first.sha256) throw changed('two reads gave different bytes');
    }
    return first;
  } finally {
    await call<void>((d) => fsCb.close(fd, (e) => d(e, undefined))).catch(() => {});
  }
}

/** One read of the whole file from offset 0 to its end (not to its stat size: a growing file reads longer). */
async function readPass(
  fd: number,
  collect: boolean,
  onProgress?: (done: number) => void
): Promise<{ sha256: string; size: number; bytes?: Uint8Array }> {
  // node:crypto's SHA-256 (OpenSSL, with the CPU's SHA extensions where it has them), fed chunk by chunk.
  const h = createHash('sha256');
  const chunks: Uint8Array[] = [];
  let size = 0;
  let spare: Uint8Array | undefined;
  for (;;) {
    const buf = collect ? new Uint8Array(CHUNK) : (spare ??= new Uint8Array(CHUNK));
    const n = await call<number>((d) => fsCb.read(fd, buf, 0, CHUNK, size, d));
    if (n === 0) break;
    const chunk = buf.subarray(0, n);
    h.update(chunk);
    if (collect) chunks.push(chunk);
    size += n;
    onProgress?.(size);
  }
  const bytes = collect ? concat(chunks, size) : undefined;
  return { sha256: h.digest('hex'), size, ...(bytes ? { bytes } : {}) };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].byteLength === size) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

type Done<T> = (e: NodeJS.ErrnoException | null, value: T) => void;
function call<T>(start: (done: Done<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((e, value) => (e ? reject(e) : resolve(value))));
}
const fdStat = (fd: number) => call<BigIntStats>((d) => fsCb.fstat(fd, { bigint: true }, d));

// ------------------------------------------------------------------------------- file names that are not UTF-8

let rawArgs: Buffer[] | null | undefined;

/**
 * This process's command-line arguments (after the script) as the bytes the OS passed, from /proc/self/cmdline
 * (Linux, where a file name is any bytes); null elsewhere, or when they do not line up with process.argv.
 */
function argvBytes(): Buffer[] | null {
  if (rawArgs !== undefined) return rawArgs;
  rawArgs = null;
  try {
    const raw = fsCb.readFileSync('/proc/self/cmdline');
    const parts: Buffer[] = [];
    for (let i = 0, from = 0; i < raw.length; i++) {
      if (raw[i] === 0) {
        parts.push(raw.subarray(from, i));
        from = i + 1;
      }
    }
    const args = process.argv.slice(2);
    const tail = parts.slice(parts.length - args.length);
    if (args.length <= parts.length && tail.every((b, i) => b.toString('utf8') === args[i])) rawArgs = tail;
  } catch {
    // no /proc: names are what process.argv says
  }
  return rawArgs;
}

/**
 * The path to hand the OS for a path from the command line: its original bytes (a Buffer) when they are not
 * valid UTF-8 (Node decodes such an argument with U+FFFD, which names another file, or none), else the string.
 * An argument `--flag=value` counts too. Two arguments whose different bytes decode alike cannot be told apart:
 * BAD_INPUT, naming both escaped.
 */
export function nativePath(p: string): string | Buffer {
  if (!p.includes('\ufffd')) return p;
  const found = new Map<string, Buffer>();
  for (const arg of argvBytes() ?? []) {
    const text = arg.toString('utf8');
    let bytes: Buffer | undefined;
    if (text === p) bytes = arg;
    else if (text.startsWith('-') && text.endsWith('=' + p)) {
      const flag = text.slice(0, text.length - p.length);
      if (!flag.includes('\ufffd')) bytes = arg.subarray(Buffer.byteLength(flag));
    }
    if (bytes) found.set(bytes.toString('hex'), bytes);
  }
  const all = [...found.values()];
  if (all.length > 1) {
    throw badInput(
      `the file names ${all.map(escapeBytes).join(' and ')} are not valid UTF-8 and read alike (${JSON.stringify(p)}): give only one of them, or rename it`
    );
  }
  if (all.length === 0 || all[0].equals(Buffer.from(p))) return p;
  return all[0];
}

/** A path for messages: invalid UTF-8 bytes of its name escaped as \xNN (see nativePath). */
export function shownPath(p: string): string {
  const native = nativePath(p);
  return typeof native === 'string' ? p : escapeBytes(native);
}

/** A note for a file whose name is not valid UTF-8 (undefined for any other). */
export function nonUtf8Note(p: string): string | undefined {
  const native = nativePath(p);
  if (typeof native === 'string') return undefined;
  return `the file name ${escapeBytes(native.subarray(native.lastIndexOf(0x2f) + 1))} is not valid UTF-8: recorded as ${JSON.stringify(path.basename(p))} (U+FFFD for each invalid byte sequence)`;
}

/** Bytes as text: valid UTF-8 as it is, every byte of an invalid sequence as \xNN. */
export function escapeBytes(bytes: Uint8Array): string {
  const strict = new TextDecoder('utf-8', { fatal: true });
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i];
    const len =
      lead < 0x80
        ? 1
        : lead >= 0xc2 && lead <= 0xdf
          ? 2
          : lead >= 0xe0 && lead <= 0xef
            ? 3
            : lead >= 0xf0 && lead <= 0xf4
              ? 4
              : 0;
    if (len > 0 && i + len <= bytes.length) {
      try {
        out += strict.decode(bytes.subarray(i, i + len));
        i += len;
        continue;
      } catch {
        // an invalid sequence: escape its first byte and go on from the next
      }
    }
    out += `\\x${lead.toString(16).padStart(2, '0')}`;
    i++;
  }
  return out;
}

/** Describes one file as a FileRef (name without directories, format from the extension, size, hash). */
export async function fileRef(
  file: string,
  extra: Pick<FileRef, 'set' | 'role'> = {},
  onProgress?: HashProgress
): Promise<FileRef> {
  const { sha256, size } = await hashFile(file, onProgress);
  const ref: FileRef = { name: path.basename(file), format: formatOf(file), size, sha256 };
  const mediaType = mediaTypeOf(file);
  if (mediaType) ref.mediaType = mediaType;
  if (extra.set) ref.set = extra.set;
  if (extra.role) ref.role = extra.role;
  return ref;
}

/**
 * The files a .gltf needs beside it: its buffers (.bin) and images (textures), from the relative URIs in its
 * JSON (data: URIs are embedded, nothing to add). A URI that leaves the .gltf's directory is refused.
 */
export async function gltfCompanions(gltfFile: string): Promise<Array<{ file: string; role: string }>> {
  const text = await readTextFile(gltfFile, 'glTF file');
  let json: { buffers?: Array<{ uri?: unknown }>; images?: Array<{ uri?: unknown }> };
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw badInput(`glTF file ${gltfFile} is not valid JSON: ${(e as Error).message}`);
  }
  const dir = path.dirname(path.resolve(gltfFile));
  const out: Array<{ file: string; role: string }> = [];
  const add = (uri: unknown, role: string) => {
    if (typeof uri !== 'string' || uri.startsWith('data:') || /^[a-z][a-z0-9+.-]*:/i.test(uri)) return;
    let rel: string;
    try {
      rel = decodeURIComponent(uri);
    } catch {
      rel = uri;
    }
    const file = path.resolve(dir, rel);
    if (path.relative(dir, file).startsWith('..') || path.isAbsolute(path.relative(dir, file))) {
      throw badInput(`glTF file ${gltfFile} references ${uri}, outside its own directory`);
    }
    out.push({ file, role });
  };
  for (const b of Array.isArray(json?.buffers) ? json.buffers : []) add(b?.uri, 'buffer');
  for (const i of Array.isArray(json?.images) ? json.images : []) add(i?.uri, 'texture');
  return out;
}

/**
 * FileRefs for a list of paths given on the command line. Each .gltf brings the buffers and textures it
 * references (all sharing the .gltf's name as `set`); a file named twice is listed once.
 */
export async function fileRefs(
  files: string[],
  opts: { role?: string; onProgress?: HashProgress } = {}
): Promise<FileRef[]> {
  const plan = new Map<string, { file: string; set?: string; role?: string }>();
  for (const f of files) {
    const abs = path.resolve(f);
    if (formatOf(f) === 'gltf') {
      await assertReadableFile(f);
      const set = path.basename(f);
      plan.set(abs, { file: f, set, role: 'model' });
      for (const c of await gltfCompanions(f)) {
        try {
          await assertReadableFile(c.file);
        } catch (e) {
          throw badInput(`${set} references ${path.basename(c.file)}, which is not beside it: ${(e as Error).message}`);
        }
        plan.set(c.file, { file: c.file, set, role: c.role });
      }
    } else if (!plan.has(abs)) {
      plan.set(abs, { file: f, role: opts.role });
    }
  }
  // Check every file before hashing any, so a typo in the last path fails fast.
  for (const p of plan.values()) await assertReadableFile(p.file);
  const refs: FileRef[] = [];
  for (const p of plan.values()) refs.push(await fileRef(p.file, { set: p.set, role: p.role }, opts.onProgress));
  return refs;
}

function badInput(message: string): LedgerError {
  return new LedgerError(ErrorCode.BAD_INPUT, message);
}
