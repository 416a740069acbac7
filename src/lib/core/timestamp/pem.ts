/** Trusted TSA roots as PEM text: "-----BEGIN CERTIFICATE-----" blocks, in a file a user picks or pastes. */
import { Certificate } from 'pkijs';
import { fromBase64 } from '../bytes.ts';
import { formatName } from './dn.ts';
import { TimestampError } from './errors.ts';
import { decodeWhole } from './token.ts';

/** Largest PEM text read (a whole system CA bundle is about 220 KiB). */
export const MAX_PEM_CHARS = 2 * 1024 * 1024;

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

function parseCertificate(der: Uint8Array, what: string): Certificate {
  return new Certificate({ schema: decodeWhole(der, what) });
}

/**
 * The DER certificates of every CERTIFICATE block, in order (other PEM blocks and text around them are
 * ignored). Throws TimestampError TSA_ROOTS_MALFORMED naming the block (1-based) that is not a parseable X.509
 * certificate, or when there is none.
 */
export function parsePemCertificates(text: string): Uint8Array[] {
  const fail = (msg: string): never => {
    throw new TimestampError('TSA_ROOTS_MALFORMED', msg);
  };
  if (typeof text !== 'string') return fail('the trusted roots are not text');
  if (text.length > MAX_PEM_CHARS)
    return fail(`the trusted roots are ${text.length} characters, more than ${MAX_PEM_CHARS}`);
  const out: Uint8Array[] = [];
  for (let at = text.indexOf(BEGIN); at >= 0; at = text.indexOf(BEGIN, at)) {
    const n = out.length + 1;
    const start = at + BEGIN.length;
    const end = text.indexOf(END, start);
    const nextBegin = text.indexOf(BEGIN, start);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) fail(`certificate block ${n} has no "${END}" line`);
    const body = text.slice(start, end).replace(/[\r\n\t ]+/g, '');
    let der: Uint8Array;
    try {
      der = fromBase64(body);
    } catch {
      return fail(`certificate block ${n} is not valid base64`);
    }
    try {
      parseCertificate(der, `certificate block ${n}`);
    } catch (e) {
      return fail(`certificate block ${n} is not an X.509 certificate: ${e instanceof Error ? e.message : String(e)}`);
    }
    out.push(der);
    at = end + END.length;
  }
  if (out.length === 0) fail(`no "${BEGIN}" block was found`);
  return out;
}

/** The subject of a DER certificate, RFC 4514 order ("CN=..., O=..., C=.."). Throws TSA_ROOTS_MALFORMED. */
export function certificateSubject(der: Uint8Array): string {
  try {
    return formatName(parseCertificate(der, 'the certificate').subject);
  } catch (e) {
    throw new TimestampError(
      'TSA_ROOTS_MALFORMED',
      `not an X.509 certificate: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e }
    );
  }
}
