/**
 * Files chosen in the page, described for an event: name, format, size and SHA-256, hashed as a stream so
 * a 2 GB GLB never sits in memory. The bytes never leave the device.
 */
import { createSHA256, type IHasher } from 'hash-wasm';

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
    if (buf.byteLength === 0) throw new Error('the file could not be read to its end');
    done += buf.byteLength;
    next = done < size ? read(done) : undefined;
    yield new Uint8Array(buf);
  }
}

/**
 * Hashes a file in the worker, slice by slice from `source`. The bytes never leave the workers, and memory
 * holds at most a few slices.
 */
export async function hashFile(file: Blob & { name: string }, onProgress?: (done: number) => void, source: SliceSource = readSlices): Promise<FileRef> {
  const h = spare ?? (await createSHA256());
  spare = undefined;
  try {
    h.init();
    const size = file.size;
    let done = 0;
    for await (const slice of source(file)) {
      h.update(slice);
      done += slice.byteLength;
      onProgress?.(done);
    }
    if (done !== size) throw new Error(`${file.name} could not be read to its end`);
    return { name: file.name, format: formatOf(file.name), size, sha256: h.digest('hex') };
  } finally {
    spare = h;
  }
}
