/**
 * Files on disk as the ledger sees them: read, hashed locally (streamed: memory stays flat for a 2 GB model)
 * and described as FileRefs. Nothing is uploaded anywhere; only name, format, size and SHA-256 are kept.
 */
import { createReadStream } from 'node:fs';
import { lstat, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256Stream } from '../../core/hash.ts';
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
export async function assertReadableFile(file: string, what = 'file'): Promise<number> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const dangling = await lstat(file).then((l) => l.isSymbolicLink(), () => false);
      throw badInput(dangling ? `${what} ${file} is a symbolic link to a file that does not exist` : `${what} not found: ${file}`);
    }
    if (code === 'EACCES' || code === 'EPERM') throw badInput(`cannot read ${what} ${file}: permission denied`);
    if (code === 'ELOOP') throw badInput(`${what} ${file} is a symbolic link loop`);
    throw badInput(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw badInput(`${what} ${file} is a directory, not a file`);
  if (!st.isFile()) throw badInput(`${what} ${file} is not a regular file`);
  return st.size;
}

/** Reads a whole (small) file, with the same clear errors. */
export async function readInputFile(file: string, what = 'file'): Promise<Uint8Array> {
  await assertReadableFile(file, what);
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw badInput(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

/** Reads a UTF-8 text file strictly (invalid UTF-8 is an error, not replacement characters). */
export async function readTextFile(file: string, what = 'file'): Promise<string> {
  const bytes = await readInputFile(file, what);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badInput(`${what} ${file} is not UTF-8 text`);
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

/** SHA-256 and size of a file, streamed from disk in 1 MiB chunks. */
export async function hashFile(file: string, onProgress?: HashProgress): Promise<{ sha256: string; size: number }> {
  const total = await assertReadableFile(file);
  try {
    const stream = createReadStream(file, { highWaterMark: CHUNK });
    return await sha256Stream(stream as AsyncIterable<Uint8Array>, onProgress && ((done) => onProgress(file, done, total)));
  } catch (e) {
    throw badInput(`cannot read file ${file}: ${(e as Error).message}`);
  }
}

/** Describes one file as a FileRef (name without directories, format from the extension, size, hash). */
export async function fileRef(file: string, extra: Pick<FileRef, 'set' | 'role'> = {}, onProgress?: HashProgress): Promise<FileRef> {
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
export async function fileRefs(files: string[], opts: { role?: string; onProgress?: HashProgress } = {}): Promise<FileRef[]> {
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
