/** The parts of pako 1.x's low-level zlib used by inflate.ts (pako ships no types). */
declare module 'pako/lib/zlib/zstream.js' {
  export default class ZStream {
    input: Uint8Array | null;
    next_in: number;
    avail_in: number;
    output: Uint8Array | null;
    next_out: number;
    avail_out: number;
    msg: string;
  }
}
declare module 'pako/lib/zlib/inflate.js' {
  import type ZStream from 'pako/lib/zlib/zstream.js';
  const inflate: {
    inflateInit2(strm: ZStream, windowBits: number): number;
    inflateReset(strm: ZStream): number;
    inflate(strm: ZStream, flush: number): number;
  };
  export default inflate;
}
declare module 'pako/lib/deflate.js' {
  const deflate: { deflate(data: Uint8Array, options?: { level?: number }): Uint8Array };
  export default deflate;
}
declare module 'pako/lib/inflate.js' {
  const inflate: { inflate(data: Uint8Array): Uint8Array };
  export default inflate;
}
