/**
 * Parsing an RFC 3161 TimeStampToken: a CMS ContentInfo of SignedData whose encapsulated content is a DER
 * TSTInfo (RFC 3161 section 2.4.2). Parsing only: signatures and trust are checked by cms.ts and chain.ts.
 */
import * as asn1js from 'asn1js';
import { Certificate, ContentInfo, SignedData, TSTInfo } from 'pkijs';
import { toHex } from '../bytes.ts';
import { SHA256_OID } from './der.ts';
import { formatName } from './dn.ts';

/** Largest token (and response) accepted. A token with a 2-certificate RSA chain is about 3-5 KiB. */
export const MAX_TOKEN_BYTES = 64 * 1024;
export const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
export const ID_CT_TSTINFO = '1.2.840.113549.1.9.16.1.4';

/** What a token says, for display and records. */
export interface TokenInfo {
  /** RFC 3339 UTC, e.g. 2026-12-07T17:00:00Z, with the token's fractional seconds if it has them. */
  genTime: string;
  /** Subject of the signing certificate, RFC 4514 order: "CN=..., O=..., C=..". Empty if the token lacks it. */
  tsa: string;
  /** Serial number of the token, hex. */
  serial: string;
  /** TSA policy OID. */
  policy: string;
  accuracySeconds?: number;
  /** The time-stamped SHA-256 hash, hex. */
  imprint: string;
}

/** A token that does not parse; the message names what is wrong. */
export class TokenFormatError extends Error {}

export interface ParsedToken {
  signedData: SignedData;
  /** The encapsulated TSTInfo bytes, as signed. */
  tstInfoDer: Uint8Array;
  tst: TSTInfo;
  genTime: Date;
  /** genTime as RFC 3339 text. */
  genTimeText: string;
  certificates: Certificate[];
  nonce?: Uint8Array;
}

/** BER-decodes exactly one value spanning all of `bytes`. */
export function decodeWhole(bytes: Uint8Array, what: string): asn1js.AsnType {
  const asn = asn1js.fromBER(bytes);
  if (asn.offset === -1) throw new TokenFormatError(`${what} is not ASN.1: ${asn.result.error}`);
  if (asn.offset !== bytes.length)
    throw new TokenFormatError(`${what} has ${bytes.length - asn.offset} bytes after its end`);
  return asn.result;
}

function attempt<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TokenFormatError) throw e;
    throw new TokenFormatError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function parseToken(token: Uint8Array): ParsedToken {
  if (!(token instanceof Uint8Array)) throw new TokenFormatError('the token is not bytes');
  if (token.length > MAX_TOKEN_BYTES)
    throw new TokenFormatError(`the token is ${token.length} bytes, more than ${MAX_TOKEN_BYTES}`);
  const ci = attempt(
    'the token is not a CMS ContentInfo',
    () => new ContentInfo({ schema: decodeWhole(token, 'the token') })
  );
  if (ci.contentType !== ID_SIGNED_DATA)
    throw new TokenFormatError(`the token's content type is ${ci.contentType}, not SignedData`);
  const signedData = attempt('the token content is not CMS SignedData', () => new SignedData({ schema: ci.content }));
  const eci = signedData.encapContentInfo;
  if (eci.eContentType !== ID_CT_TSTINFO) {
    throw new TokenFormatError(`the signed content type is ${eci.eContentType}, not id-ct-TSTInfo`);
  }
  if (!eci.eContent) throw new TokenFormatError('the token has no TSTInfo content');
  const tstInfoDer = attempt('the TSTInfo content', () => new Uint8Array(eci.eContent!.getValue()));
  const tstAsn = decodeWhole(tstInfoDer, 'the TSTInfo');
  const tst = attempt('the TSTInfo does not parse', () => new TSTInfo({ schema: tstAsn }));
  if (tst.version !== 1) throw new TokenFormatError(`the TSTInfo version is ${tst.version}, not 1`);
  const items = (tstAsn as asn1js.Sequence).valueBlock.value;
  const rawTime = items[4];
  if (!(rawTime instanceof asn1js.GeneralizedTime))
    throw new TokenFormatError('the TSTInfo genTime is not a GeneralizedTime');
  const { date: genTime, text: genTimeText } = parseGeneralizedTime(rawTime.valueBlock.valueHexView);
  const certificates = (signedData.certificates ?? []).filter((c): c is Certificate => c instanceof Certificate);
  let nonce: Uint8Array | undefined;
  if (tst.nonce) {
    const v = tst.nonce.valueBlock.valueHexView;
    if (v.length === 0 || v[0] & 0x80) throw new TokenFormatError('the TSTInfo nonce is not a positive INTEGER');
    nonce = magnitude(v);
  }
  return { signedData, tstInfoDer, tst, genTime, genTimeText, certificates, nonce };
}

/** An unsigned big-endian integer's bytes without leading zero bytes (at least one byte). */
export function magnitude(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return new Uint8Array(b.subarray(i));
}

/** RFC 3161 genTime: YYYYMMDDhhmmss[.fraction]Z, UTC. Returns the Date (to the millisecond) and RFC 3339 text. */
export function parseGeneralizedTime(raw: Uint8Array): { date: Date; text: string } {
  const s = String.fromCharCode(...raw);
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(s);
  if (!m) throw new TokenFormatError(`the TSTInfo genTime "${s.slice(0, 40)}" is not YYYYMMDDhhmmss[.f]Z`);
  const [, Y, M, D, h, mi, sec, frac] = m;
  const ms = frac ? Number((frac + '00').slice(0, 3)) : 0;
  const date = new Date(Date.UTC(+Y, +M - 1, +D, +h, +mi, +sec, ms));
  if (
    date.getUTCFullYear() !== +Y ||
    date.getUTCMonth() !== +M - 1 ||
    date.getUTCDate() !== +D ||
    +h > 23 ||
    +mi > 59 ||
    +sec > 59
  ) {
    throw new TokenFormatError(`the TSTInfo genTime "${s}" is not a valid date`);
  }
  const fraction = frac ? '.' + frac.replace(/0+$/, '') : '';
  return { date, text: `${Y}-${M}-${D}T${h}:${mi}:${sec}${fraction === '.' ? '' : fraction}Z` };
}

/** The readable summary of a parsed token; `signer` gives the TSA name. */
export function describeToken(parsed: ParsedToken, signer?: Certificate): TokenInfo {
  const { tst } = parsed;
  const info: TokenInfo = {
    genTime: parsed.genTimeText,
    tsa: signer ? formatName(signer.subject) : '',
    serial: toHex(magnitude(tst.serialNumber.valueBlock.valueHexView)),
    policy: tst.policy,
    imprint: toHex(new Uint8Array(tst.messageImprint.hashedMessage.valueBlock.valueHexView))
  };
  const a = tst.accuracy;
  if (a && (a.seconds !== undefined || a.millis !== undefined || a.micros !== undefined)) {
    info.accuracySeconds = (a.seconds ?? 0) + (a.millis ?? 0) / 1e3 + (a.micros ?? 0) / 1e6;
  }
  return info;
}

/** The token's imprint if it is SHA-256, else a message saying what it is. */
export function sha256Imprint(parsed: ParsedToken): Uint8Array | string {
  const mi = parsed.tst.messageImprint;
  if (mi.hashAlgorithm.algorithmId !== SHA256_OID)
    return `the token's imprint algorithm is ${mi.hashAlgorithm.algorithmId}, not SHA-256`;
  const h = new Uint8Array(mi.hashedMessage.valueBlock.valueHexView);
  if (h.length !== 32) return `the token's SHA-256 imprint is ${h.length} bytes, not 32`;
  return h;
}
