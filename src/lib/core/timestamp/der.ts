/**
 * A minimal strict DER reader and writer for the few small structures built or checked byte by byte here
 * (the TimeStampReq). Single-byte tags only; definite, minimally encoded lengths; no trailing bytes.
 * Larger structures (responses, tokens, certificates) go through asn1js/pkijs.
 */
export interface Tlv {
  tag: number;
  /** The contents (without tag and length). */
  value: Uint8Array;
  /** The whole encoding, tag and length included. */
  raw: Uint8Array;
}

export class DerError extends Error {}

/** Reads one TLV at `offset`; returns it and the offset after it. */
export function readTlv(b: Uint8Array, offset: number): { tlv: Tlv; next: number } {
  if (offset + 2 > b.length) throw new DerError('truncated');
  const tag = b[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let len = b[offset + 1];
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length');
    if (n > 3) throw new DerError('length too large');
    if (p + n > b.length) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    if (b[p] === 0 || len < 0x80) throw new DerError('length not minimally encoded');
    p += n;
  }
  if (p + len > b.length) throw new DerError('truncated value');
  return { tlv: { tag, value: b.subarray(p, p + len), raw: b.subarray(offset, p + len) }, next: p + len };
}

/** The TLVs inside a constructed value, in order. */
export function readChildren(value: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let p = 0; p < value.length;) {
    const { tlv, next } = readTlv(value, p);
    out.push(tlv);
    p = next;
  }
  return out;
}

/** Reads exactly one TLV spanning all of `b`. */
export function readWhole(b: Uint8Array): Tlv {
  const { tlv, next } = readTlv(b, 0);
  if (next !== b.length) throw new DerError('trailing bytes');
  return tlv;
}

export function encodeTlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const head =
    len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : len < 0x10000 ? [tag, 0x82, len >> 8, len & 0xff] : null;
  if (!head) throw new DerError('value too large');
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let p = head.length;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** The magnitude bytes of an unsigned big-endian integer without leading zero bytes (at least one byte). */
export function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** DER INTEGER contents for an unsigned big-endian magnitude: minimal, with a 0x00 prefix if the top bit is set. */
export function unsignedIntegerContents(magnitude: Uint8Array): Uint8Array {
  const m = stripLeadingZeros(magnitude.length ? magnitude : new Uint8Array(1));
  if (m[0] & 0x80) {
    const out = new Uint8Array(m.length + 1);
    out.set(m, 1);
    return out;
  }
  return m;
}

/** The unsigned magnitude of DER INTEGER contents; throws if not minimal or negative. */
export function integerMagnitude(contents: Uint8Array): Uint8Array {
  if (contents.length === 0) throw new DerError('empty INTEGER');
  if (
    contents.length > 1 &&
    ((contents[0] === 0 && !(contents[1] & 0x80)) || (contents[0] === 0xff && contents[1] & 0x80))
  ) {
    throw new DerError('INTEGER not minimally encoded');
  }
  if (contents[0] & 0x80) throw new DerError('negative INTEGER');
  return stripLeadingZeros(contents);
}

export const TAG = { BOOLEAN: 0x01, INTEGER: 0x02, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06, SEQUENCE: 0x30 } as const;

/** DER of OID 2.16.840.1.101.3.4.2.1 (SHA-256), tag and length included. */
export const SHA256_OID_DER = new Uint8Array([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]);
export const SHA256_OID = '2.16.840.1.101.3.4.2.1';
