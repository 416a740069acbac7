/**
 * Files chosen in the page, described for an event: name, format, size and SHA-256, hashed as a stream so
 * a 2 GB GLB never sits in memory. The bytes never leave the device.
 */
import { createSHA256, type IHasher } from 'hash-wasm';
import { ErrorCode, LedgerError } from '../core/errors.ts';

export interface FileRef {
  name: string;
  format: string;
  size: number;
  sha256: string;
}

/** Formats by extension (ledger-schema defs fileFormat: a lowercase word); no extension gives "other". */
const KNOWN: Record<string, string> = {
  glb: 'glb',
  gltf: 'gltf',
  bin: 'bin',
  fbx: 'fbx',
  obj: 'obj',
  mtl: 'mtl',
  usdz: 'usdz',
  usd: 'usd',
  stl: 'stl',
  ply: 'ply',
  blend: 'blend',
  png: 'png',
  jpg: 'jpg',
  jpeg: 'jpeg',
  webp: 'webp',
  ktx2: 'ktx2'
};

export function formatOf(name: string): string {
  const m = /\.([A-Za-z0-9]{1,16})$/.exec(name);
  if (!m) return 'other';
  const ext = m[1].toLowerCase();
  return KNOWN[ext] ?? ext;
}

/** Bytes read and hashed at a time: big enough that per-read overhead vanishes, small enough to keep memory flat. */
export const HASH_CHUNK = 8 * 1024 * 1024;

/** One hasher kept between files (a wasm instance each); a second concurrent hash makes its own. */
let spare: IHasher | undefined;

/** Where a file's bytes come from, in order, as slices of at most HASH_CHUNK bytes. */
export type SliceSource = (file: Blob) => AsyncIterable<Uint8Array>;

/**
 * Slices read on this thread, the next read under way while the current one is hashed (File.stream() hands out
 * 64 KiB pieces, several times slower). The hashing worker reads on a thread of its own instead (slice-reader.ts):
 * taking the bytes of a read in costs this thread time too.
 */
export async function* readSlices(file: Blob): AsyncIterable<Uint8Array> {
  const size = file.size;
  const read = (from: number) => file.slice(from, Math.min(from + HASH_CHUNK, size)).arrayBuffer();
  let next = size > 0 ? read(0) : undefined;
  let done = 0;
  while (next) {
    const buf = await next;
    if (buf.byteLength === 0) throw new LedgerError(ErrorCode.FILE_CHANGED, 'the file could not be read to its end');
    done += buf.byteLength;
    next = done < size ? read(done) : undefined;
    yield new Uint8Array(buf);
  }
}

/**
 * A file whose lastModified is this close to the start of its hash (or later) is hashed twice, and refused
 * unless both agree: a change made within one file-system time stamp tick may leave the time stamp, and so the
 * File's snapshot check below, as it was (2 s covers FAT; local file systems stamp in 1-10 ms ticks).
 */
export const RACY_MS = 2000;

/** The FILE_CHANGED error (the code of src/lib/core/errors.ts), naming the file. */
function fileChanged(name: string, how: string): LedgerError {
  return new LedgerError(
    ErrorCode.FILE_CHANGED,
    `${name} ${how} after it was chosen, while it was being read: its hash would be of neither version, so nothing was done with it; choose the file again once nothing is writing it`
  );
}

/**
 * Hashes a file in the worker, slice by slice from `source`. The bytes never leave the workers, and memory
 * holds at most a few slices.
 *
 * A File is a snapshot: the browser refuses to read it (NotReadableError) once the file on disk no longer has
 * the size and modification time it had when it was chosen (File API, "snapshot state"), so a file rewritten
 * while it is hashed fails here as FILE_CHANGED instead of yielding a hash of neither version. A change that
 * keeps both (within one time stamp tick) is caught by hashing a recently modified file twice (RACY_MS).
 */
export async function hashFile(
  file: Blob & { name: string },
  onProgress?: (done: number) => void,
  source: SliceSource = readSlices
): Promise<FileRef> {
  const start = Date.now();
  const sha256 = await hashOnce(file, onProgress, source);
  const lastModified = (file as Partial<File>).lastModified;
  if (typeof lastModified === 'number' && lastModified > start - RACY_MS) {
    if ((await hashOnce(file, undefined, source)) !== sha256) throw fileChanged(file.name, 'changed on disk');
  }
  return { name: file.name, format: formatOf(file.name), size: file.size, sha256 };
}

async function hashOnce(
  file: Blob & { name: string },
  onProgress: ((done: number) => void) | undefined,
  source: SliceSource
): Promise<string> {
  const h = spare ?? (await createSHA256());
  spare = undefined;
  try {
    h.init();
    const size = file.size;
    let done = 0;
    try {
      for await (const slice of source(file)) {
        h.update(slice);
        done += slice.byteLength;
        onProgress?.(done);
      }
    } catch (e) {
      // Chromium and Firefox: "NotReadableError"; the hashing worker's reader passes the name on in its message.
      if ((e as Error)?.name === 'NotReadableError' || /NotReadableError/.test(String((e as Error)?.message))) {
        throw fileChanged(file.name, 'changed, moved or became unreadable on disk');
      }
      throw e;
    }
    if (done !== size) throw new LedgerError(ErrorCode.FILE_CHANGED, `${file.name} could not be read to its end`);
    return h.digest('hex');
  } finally {
    spare = h;
  }
}
