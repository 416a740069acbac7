/** What the pack writer and readers share: the object type codes, the CRC-32 of a pack entry, PackError. */
import { CodedError } from '../../core/errors.ts';
import type { GitObject } from '../../core/journal/objects.ts';

export const TYPE_CODE = { commit: 1, tree: 2, blob: 3 } as const;
export const TYPE_NAME: Record<number, GitObject['type'] | 'tag'> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
export const OFS_DELTA = 6;
export const REF_DELTA = 7;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), as a pack index stores it for each entry. */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const PackErrorCode = {
  /** A pack (or one of its objects) that is malformed: every byte of a received pack is hostile. */
  PACK_INVALID: 'PACK_INVALID',
  /** A pack index that is not a version-2 index of its pack. */
  PACK_INDEX_INVALID: 'PACK_INDEX_INVALID',
  /** A git delta whose sizes, offsets or instructions do not fit the bytes it has. */
  DELTA_INVALID: 'DELTA_INVALID'
} as const;
export type PackErrorCode = (typeof PackErrorCode)[keyof typeof PackErrorCode];

/** A problem in a pack, its index or a delta, with the offset and (when it got that far) the object it concerns. */
export class PackError extends CodedError<PackErrorCode> {
  readonly offset?: number;
  readonly oid?: string;
  constructor(message: string, offset?: number, oid?: string, code: PackErrorCode = PackErrorCode.PACK_INVALID) {
    super(code, message);
    this.name = 'PackError';
    this.offset = offset;
    this.oid = oid;
  }
}
