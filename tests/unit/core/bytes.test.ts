import { describe, expect, it } from 'vitest';
import { concatAll, concatBytes } from '../../../src/lib/core/bytes.ts';

describe('joining bytes', () => {
  it('joins any number of parts (a pack of 300k objects), in order', () => {
    const parts = Array.from({ length: 300_000 }, (_, i) => new Uint8Array([i & 0xff, (i >> 8) & 0xff]));
    const all = concatAll(parts);
    expect(all.length).toBe(600_000);
    expect([...all.subarray(2 * 299_999)]).toEqual([299_999 & 0xff, (299_999 >> 8) & 0xff]);
    expect(concatBytes(new Uint8Array([1]), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
  });
});
