import { describe, expect, it } from 'vitest';
import { concatAll, concatBytes, fromBase64url, fromHex, toBase64url, toHex } from '../../../src/lib/core/bytes.ts';
import { ErrorCode, LedgerError } from '../../../src/lib/core/errors.ts';
import { decodeSig } from '../../../src/lib/core/journal/signatures.ts';

const badInput = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LedgerError);
    expect((e as LedgerError).code).toBe(ErrorCode.BAD_INPUT);
    return;
  }
  throw new Error('accepted');
};

describe('joining bytes', () => {
  it('joins any number of parts (a pack of 300k objects), in order', () => {
    const parts = Array.from({ length: 300_000 }, (_, i) => new Uint8Array([i & 0xff, (i >> 8) & 0xff]));
    const all = concatAll(parts);
    expect(all.length).toBe(600_000);
    expect([...all.subarray(2 * 299_999)]).toEqual([299_999 & 0xff, (299_999 >> 8) & 0xff]);
    expect(concatBytes(new Uint8Array([1]), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
  });
});

describe('hex and base64url', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);

  it('hex: every byte value round-trips; only lowercase hex of even length is read', () => {
    expect(fromHex(toHex(all))).toEqual(all);
    expect(fromHex('')).toEqual(new Uint8Array());
    for (const s of ['0', 'AB', 'ag', '0g', 'g0', ' 00', '00 ', 'é0', '0\u0130', '-1'] as const)
      badInput(() => fromHex(s));
    badInput(() => fromHex(42 as unknown as string));
  });

  it('base64url: every length and byte value round-trips; other alphabets, padding and stray bits are refused', () => {
    for (let n = 0; n < 70; n++)
      expect(fromBase64url(toBase64url(all.subarray(n, n + n)))).toEqual(all.subarray(n, n + n));
    expect(toBase64url(all)).toMatch(/^[A-Za-z0-9_-]+$/);
    for (const s of ['a+b', 'a/bc', 'AA==', 'A', 'AB!c', 'ABé']) badInput(() => fromBase64url(s));
    // "AB" = 000000 000001: the last 4 bits of one byte are not zero, so it is no canonical encoding.
    badInput(() => fromBase64url('AB'));
    expect(fromBase64url('AA')).toEqual(new Uint8Array([0]));
    badInput(() => fromBase64url('AAB'));
    expect(fromBase64url('AAE')).toEqual(new Uint8Array([0, 1]));
  });

  it('a journal signature value is exactly 64 bytes in canonical base64url', () => {
    const sig = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
    const value = toBase64url(sig);
    expect(decodeSig(value)).toEqual(sig);
    // The 86th character carries 2 bits of the last byte and 4 that must be zero.
    const last = value.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const stray = alphabet[alphabet.indexOf(last) | 1];
    expect(decodeSig(value.slice(0, -1) + stray)).toBeUndefined();
    expect(decodeSig(value.slice(0, -1))).toBeUndefined();
    expect(decodeSig(value + 'A')).toBeUndefined();
    expect(decodeSig(value.slice(0, -2) + '+' + last)).toBeUndefined();
    expect(decodeSig(toBase64url(sig.subarray(0, 63)))).toBeUndefined();
    expect(decodeSig(42)).toBeUndefined();
  });
});
