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

/**
 * Hashes a file in the worker, reading `HASH_CHUNK` slices with the next read already under way while the
 * current one is hashed (File.stream() hands out 64 KiB pieces, several times slower). The bytes never leave
 * the worker, and memory holds at most two slices.
 */
export async function hashFile(file: Blob & { name: string }, onProgress?: (done: number) => void): Promise<FileRef> {
  const h = spare ?? (await createSHA256());
  spare = undefined;
  try {
    h.init();
    const size = file.size;
    const read = (from: number) => file.slice(from, Math.min(from + HASH_CHUNK, size)).arrayBuffer();
    let next = size > 0 ? read(0) : undefined;
    let done = 0;
    while (next) {
      const buf = await next;
      if (buf.byteLength === 0) throw new Error(`${file.name} could not be read to its end`);
      const end = done + buf.byteLength;
      next = end < size ? read(end) : undefined;
      h.update(new Uint8Array(buf));
      done = end;
      onProgress?.(done);
    }
    return { name: file.name, format: formatOf(file.name), size, sha256: h.digest('hex') };
  } finally {
    spare = h;
  }
}
