/**
 * Files chosen in the page, described for an event: name, format, size and SHA-256, hashed as a stream so
 * a 2 GB GLB never sits in memory. The bytes never leave the device.
 */
import { sha256Stream } from '../core/hash.ts';

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

async function* chunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

export async function hashFile(file: Blob & { name: string }, onProgress?: (done: number) => void): Promise<FileRef> {
  const { sha256, size } = await sha256Stream(chunks(file.stream()), onProgress);
  return { name: file.name, format: formatOf(file.name), size, sha256 };
}
