/** Byte helpers shared by the core: UTF-8, hex, base64 and base64url (RFC 4648, no padding for url). */
import { ErrorCode, LedgerError } from './errors.ts';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s: string): Uint8Array => enc.encode(s);
/** Decodes strict UTF-8; throws on invalid sequences. */
export const fromUtf8 = (b: Uint8Array): string => dec.decode(b);

const HEX_ASCII = utf8(Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).join(''));
const ascii = new TextDecoder('latin1');
/** Lowercase hex, as one flat string (a string built by `+=` is a rope: hashing it as a Map key flattens it first). */
export function toHex(b: Uint8Array): string {
  const out = new Uint8Array(2 * b.length);
  for (let i = 0; i < b.length; i++) {
    out[2 * i] = HEX_ASCII[2 * b[i]];
    out[2 * i + 1] = HEX_ASCII[2 * b[i] + 1];
  }
  return ascii.decode(out);
}
/** Value of each lowercase hex digit by character code, -1 for every other character. */
const HEX_VAL = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX_VAL['0123456789abcdef'.charCodeAt(i)] = i;

export function fromHex(s: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 2 !== 0) throw new LedgerError(ErrorCode.BAD_INPUT, 'expected lowercase hex');
  const out = new Uint8Array(s.length / 2);
  hexInto(s, out, 0);
  return out;
}

/** Writes the bytes of lowercase hex `s` (of even length) into `out` from `at`; throws on any other character. */
export function hexInto(s: string, out: Uint8Array, at: number): void {
  if (s.length % 2 !== 0) throw new LedgerError(ErrorCode.BAD_INPUT, 'expected lowercase hex');
  for (let i = 0; i + 1 < s.length; i += 2) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    const hi = a < 128 ? HEX_VAL[a] : -1;
    const lo = b < 128 ? HEX_VAL[b] : -1;
    if (hi < 0 || lo < 0) throw new LedgerError(ErrorCode.BAD_INPUT, 'expected lowercase hex');
    out[at + (i >> 1)] = (hi << 4) | lo;
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Value of each ASCII base64 character, -1 for the others (a table: decoding is on the hot path of checks). */
const B64_VAL = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VAL[B64.charCodeAt(i)] = i;
/** The same for base64url ('-' and '_' in place of '+' and '/'). */
const B64URL_VAL = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++)
  B64URL_VAL['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i;

export function toBase64(b: Uint8Array, pad = true): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i < b.length) {
    const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    s += B64[n >> 18] + B64[(n >> 12) & 63];
    s += i + 1 < b.length ? B64[(n >> 6) & 63] : pad ? '=' : '';
    s += pad ? '=' : '';
  }
  return s;
}

/** Strict base64 decoding: canonical padding required when pad is true, no whitespace, no stray bits. */
export function fromBase64(s: string, pad = true): Uint8Array {
  if (typeof s !== 'string') throw new LedgerError(ErrorCode.BAD_INPUT, 'expected base64 string');
  let body = s;
  if (pad) {
    if (s.length % 4 !== 0) throw new LedgerError(ErrorCode.BAD_INPUT, 'base64 length is not a multiple of 4');
    body = s.replace(/={1,2}$/, '');
  } else if (s.includes('=')) {
    throw new LedgerError(ErrorCode.BAD_INPUT, 'unexpected base64 padding');
  }
  return decodeB64(body, B64_VAL);
}

function decodeB64(body: string, table: Int8Array): Uint8Array {
  if (body.length % 4 === 1) throw new LedgerError(ErrorCode.BAD_INPUT, 'invalid base64 length');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    const v = code < 128 ? table[code] : -1;
    if (v < 0)
      throw new LedgerError(
        ErrorCode.BAD_INPUT,
        `invalid base64 character ${JSON.stringify(String.fromCodePoint(body.codePointAt(i)!))}`
      );
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'non-canonical base64 (stray bits)');
  return out;
}

export const toBase64url = (b: Uint8Array): string => toBase64(b, false).replace(/\+/g, '-').replace(/\//g, '_');
export function fromBase64url(s: string): Uint8Array {
  if (typeof s !== 'string' || /[+/=]/.test(s)) throw new LedgerError(ErrorCode.BAD_INPUT, 'invalid base64url');
  return decodeB64(s, B64URL_VAL);
}

/** The parts joined. For a few parts; a list of any length goes to concatAll (a spread of 100k arguments overflows the stack). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts);
}

/** The parts joined, however many. */
export function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
