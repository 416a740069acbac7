/** SHA-256 for the core: synchronous (hash-wasm, after one async init) for hot paths, streaming for files. */
import { createSHA256, type IHasher } from 'hash-wasm';
import { toHex } from './bytes.ts';

let hasher: IHasher | undefined;
let ready: Promise<IHasher> | undefined;

/** Must be awaited once before sha256Sync; every public entry point of the core does. */
export function initHash(): Promise<IHasher> {
  if (hasher) return Promise.resolve(hasher);
  ready ??= createSHA256().then((h) => (hasher = h));
  return ready;
}

/** The platform's own SHA-256 where it has a synchronous one (Node's node:crypto); undefined elsewhere. */
export type NativeHash = (data: Uint8Array) => Uint8Array;
let native: NativeHash | null | undefined;
export function nativeSha256(): NativeHash | undefined {
  if (native === undefined) {
    native = null;
    try {
      const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
        ?.getBuiltinModule;
      const nodeCrypto = get?.('node:crypto') as
        { createHash(alg: string): { update(d: Uint8Array): { digest(): Uint8Array } } } | undefined;
      if (nodeCrypto) native = (data) => new Uint8Array(nodeCrypto.createHash('sha256').update(data).digest());
    } catch {
      native = null;
    }
  }
  return native ?? undefined;
}

/** Inputs at least this long go to the platform's SHA-256 when it has one (its per-call cost is higher). */
const NATIVE_MIN = 256;

export function sha256Sync(data: Uint8Array): Uint8Array {
  if (!hasher) throw new Error('initHash() was not awaited');
  if (data.length >= NATIVE_MIN) {
    const n = nativeSha256();
    if (n) return n(data);
  }
  hasher.init();
  hasher.update(data);
  return hasher.digest('binary');
}

export const sha256HexSync = (data: Uint8Array): string => toHex(sha256Sync(data));

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  await initHash();
  return sha256Sync(data);
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  return toHex(await sha256(data));
}

/** SHA-256 by WebCrypto where there is one (native, and off the main thread in Node), else hash-wasm: for large inputs. */
export async function sha256HexLarge(data: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) {
    try {
      return toHex(new Uint8Array(await subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>)));
    } catch {
      /* a view WebCrypto does not take (shared memory): hash-wasm below */
    }
  }
  return sha256Hex(data);
}

export interface StreamHashResult {
  sha256: string;
  size: number;
}

/**
 * Hashes a stream of byte chunks with a hasher of its own (so hashing several files at once is safe),
 * reporting progress after each chunk. Memory stays flat: chunks are never collected.
 */
export async function sha256Stream(
  chunks: AsyncIterable<Uint8Array>,
  onProgress?: (bytesDone: number) => void
): Promise<StreamHashResult> {
  const h = await createSHA256();
  h.init();
  let size = 0;
  for await (const chunk of chunks) {
    h.update(chunk);
    size += chunk.length;
    onProgress?.(size);
  }
  return { sha256: h.digest('hex'), size };
}
