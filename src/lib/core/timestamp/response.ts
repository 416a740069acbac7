/**
 * Reading a TSA's answer (RFC 3161 section 2.4.2): a TimeStampResp whose status is granted carries the
 * TimeStampToken we keep. The token must time-stamp our imprint, echo our nonce, and be signed by the
 * certificate it carries (whether that TSA is trusted is verify.ts's question, asked later).
 */
import * as asn1js from 'asn1js';
import { PKIStatusInfo, TimeStampResp } from 'pkijs';
import { bytesEqual, toHex } from '../bytes.ts';
import { checkTokenSignature } from './cms.ts';
import { stripLeadingZeros } from './der.ts';
import { TimestampError } from './errors.ts';
import { MAX_TOKEN_BYTES, TokenFormatError, decodeWhole, parseToken, sha256Imprint } from './token.ts';

/** Largest response accepted. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

const STATUS_WORDS = [
  'granted',
  'grantedWithMods',
  'rejection',
  'waiting',
  'revocationWarning',
  'revocationNotification'
];
/** PKIFailureInfo bit names (RFC 3161 section 2.4.2). */
const FAIL_INFO_WORDS: Record<number, string> = {
  0: 'badAlg',
  2: 'badRequest',
  5: 'badDataFormat',
  14: 'timeNotAvailable',
  15: 'unacceptedPolicy',
  16: 'unacceptedExtension',
  17: 'addInfoNotAvailable',
  25: 'systemFailure'
};

/** The set bits of a PKIFailureInfo as words ("bit N" for bits RFC 3161 does not name). */
export function failInfoWords(bits: Uint8Array, unusedBits = 0): string[] {
  const words: string[] = [];
  const total = bits.length * 8 - unusedBits;
  for (let i = 0; i < total; i++) {
    if (bits[i >> 3] & (0x80 >> (i & 7))) words.push(FAIL_INFO_WORDS[i] ?? `bit ${i}`);
  }
  return words;
}

function describeStatus(s: PKIStatusInfo): { status: string; failInfo: string[]; statusString: string } {
  const status = STATUS_WORDS[s.status] ?? `status ${s.status}`;
  const fi = s.failInfo;
  const failInfo = fi ? failInfoWords(new Uint8Array(fi.valueBlock.valueHexView), fi.valueBlock.unusedBits) : [];
  const statusString = (s.statusStrings ?? []).map((t) => String(t.valueBlock.value)).join('; ');
  return { status, failInfo, statusString };
}

const malformed = (why: string, cause?: unknown) =>
  new TimestampError('TSA_RESPONSE_MALFORMED', `the time-stamp response is malformed: ${why}`, { cause });

/**
 * Checks a TSA's DER TimeStampResp against what we asked for and returns the TimeStampToken's DER.
 * Throws TimestampError: TSA_REJECTED (status other than granted/grantedWithMods; the message has the status,
 * failInfo words and statusString), TSA_RESPONSE_MALFORMED, TSA_IMPRINT_MISMATCH, TSA_NONCE_MISMATCH.
 */
export async function tokenFromResponse(
  resp: Uint8Array,
  expected: { imprint: Uint8Array; nonce?: Uint8Array }
): Promise<Uint8Array> {
  if (!(resp instanceof Uint8Array)) throw malformed('not bytes');
  if (resp.length > MAX_RESPONSE_BYTES) throw malformed(`${resp.length} bytes, more than ${MAX_RESPONSE_BYTES}`);
  let parsed: TimeStampResp;
  let items: asn1js.AsnType[];
  try {
    const asn = decodeWhole(resp, 'the response');
    parsed = new TimeStampResp({ schema: asn });
    items = (asn as asn1js.Sequence).valueBlock.value;
  } catch (e) {
    throw malformed(e instanceof Error ? e.message : String(e), e);
  }
  const st = describeStatus(parsed.status);
  if (parsed.status.status !== 0 && parsed.status.status !== 1) {
    const parts = [
      st.status,
      ...(st.failInfo.length ? [`failInfo ${st.failInfo.join(', ')}`] : []),
      ...(st.statusString ? [`"${st.statusString}"`] : [])
    ];
    throw new TimestampError('TSA_REJECTED', `the TSA refused the time-stamp: ${parts.join('; ')}`, { detail: st });
  }
  if (!parsed.timeStampToken) throw malformed(`status ${st.status} but no token`);
  // The token's bytes exactly as the TSA sent them.
  const token = new Uint8Array(items[1].valueBeforeDecodeView);
  if (token.length > MAX_TOKEN_BYTES) throw malformed('the token is too large');

  let tok;
  try {
    tok = parseToken(token);
  } catch (e) {
    if (e instanceof TokenFormatError) throw malformed(e.message, e);
    throw e;
  }
  const imprint = sha256Imprint(tok);
  if (typeof imprint === 'string') throw new TimestampError('TSA_IMPRINT_MISMATCH', imprint);
  if (!bytesEqual(imprint, expected.imprint)) {
    throw new TimestampError(
      'TSA_IMPRINT_MISMATCH',
      `the token time-stamps ${toHex(imprint)}, not ${toHex(expected.imprint)}`
    );
  }
  if (expected.nonce) {
    const want = stripLeadingZeros(expected.nonce);
    if (!tok.nonce)
      throw new TimestampError('TSA_NONCE_MISMATCH', 'the token carries no nonce, but the request had one');
    if (!bytesEqual(tok.nonce, want)) {
      throw new TimestampError(
        'TSA_NONCE_MISMATCH',
        `the token's nonce ${toHex(tok.nonce)} is not the request's ${toHex(want)}`
      );
    }
  }
  const sig = await checkTokenSignature(tok);
  if (!sig.ok) throw malformed(sig.reason);
  return token;
}
