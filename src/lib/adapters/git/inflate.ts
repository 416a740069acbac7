/**
 * zlib inflate of one object inside a packfile, where only the uncompressed size is known and the compressed
 * length is found by inflating (pack entries are not delimited). pako's low-level stream is used, reset for each
 * object (no new 32 KiB window per object), in Node and in the browser alike: the web's DecompressionStream
 * refuses trailing bytes, and Node's zlib does not say where the stream ended.
 */
import ZStream from 'pako/lib/zlib/zstream.js';
import zinflate from 'pako/lib/zlib/inflate.js';
import pakoDeflate from 'pako/lib/deflate.js';
import pakoInflate from 'pako/lib/inflate.js';
import type { GitZlib } from './binding.ts';
import { PackError } from './pack-format.ts';

/**
 * zlib by pako, synchronous: the browser binding's (a CompressionStream per object costs about a millisecond
 * in a worker, which a catch-up of 30,000 objects cannot afford).
 */
export const pakoZlib: GitZlib = {
  deflate: (data) => pakoDeflate.deflate(data),
  inflate: (data) => pakoInflate.inflate(data)
};

const Z_FINISH = 4;
const Z_STREAM_END = 1;

export class PackInflater {
  #strm = new ZStream();
  #prefix?: GitZlib['inflatePrefix'];

  /** `prefix`: the binding's own inflater of a stream followed by other bytes (Node's zlib), when it has one. */
  constructor(prefix?: GitZlib['inflatePrefix']) {
    this.#prefix = prefix;
    if (zinflate.inflateInit2(this.#strm, 15) !== 0) throw new Error('zlib inflate could not start');
  }

  /**
   * Inflates the zlib stream at `input[offset]`, which must produce exactly `size` bytes. Returns the bytes and
   * the offset just past the stream. Throws a PackError (PACK_INVALID) on corrupt or truncated data or a size mismatch.
   */
  inflateAt(input: Uint8Array, offset: number, size: number): { data: Uint8Array; end: number } {
    if (this.#prefix) {
      let r;
      try {
        r = this.#prefix(input.subarray(offset), size + 1);
      } catch (e) {
        throw new PackError(
          `zlib data at pack offset ${offset} is corrupt or truncated (${(e as Error).message})`,
          offset
        );
      }
      if (r.data.length !== size)
        throw new PackError(
          `the object at pack offset ${offset} inflates to ${r.data.length} bytes, its header says ${size}`,
          offset
        );
      return { data: r.data, end: offset + r.consumed };
    }
    const s = this.#strm;
    zinflate.inflateReset(s);
    const out = new Uint8Array(size + 1); // one spare byte: a stream that inflates to more than `size` shows it
    s.input = input;
    s.next_in = offset;
    s.avail_in = input.length - offset;
    s.output = out;
    s.next_out = 0;
    s.avail_out = out.length;
    const status = zinflate.inflate(s, Z_FINISH);
    if (status !== Z_STREAM_END)
      throw new PackError(
        `zlib data at pack offset ${offset} is corrupt or truncated${s.msg ? ` (${s.msg})` : ''}`,
        offset
      );
    if (s.next_out !== size)
      throw new PackError(
        `the object at pack offset ${offset} inflates to ${s.next_out} bytes, its header says ${size}`,
        offset
      );
    const end = s.next_in;
    s.input = null;
    s.output = null;
    return { data: out.subarray(0, size), end };
  }
}
