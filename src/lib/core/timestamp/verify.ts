/**
 * Verifying an RFC 3161 time-stamp token over a checkpoint's imprint, against the roots the user trusts.
 * The verdict says trusted, untrusted (a sound token whose TSA we cannot vouch for) or invalid; hostile input
 * gives a verdict, never an exception.
 *
 * Order of the checks: the token parses (CMS SignedData of a v1 TSTInfo) → its SHA-256 imprint is ours → the CMS
 * signature verifies with the signer certificate (content-type, message-digest, ESS signing-certificate) → that
 * certificate has a critical extendedKeyUsage with id-kp-timeStamping (RFC 3161 2.3) → roots were given → a
 * path to one of them (chain.ts) → every certificate on it is valid at genTime.
 */
import { Certificate } from 'pkijs';
import { bytesEqual, toHex } from '../bytes.ts';
import { buildChain } from './chain.ts';
import { checkTokenSignature, findSignerSync } from './cms.ts';
import { formatName } from './dn.ts';
import { TimestampError } from './errors.ts';
import { TokenFormatError, decodeWhole, describeToken, parseToken, sha256Imprint, type TokenInfo } from './token.ts';

export type { TokenInfo } from './token.ts';
export { MAX_TOKEN_BYTES } from './token.ts';

export type TokenVerdict =
  | { status: 'trusted'; info: TokenInfo; root: string }
  | {
      status: 'untrusted';
      info: TokenInfo;
      code: 'TSA_ROOT_UNKNOWN' | 'TSA_NO_ROOTS' | 'TSA_CERT_NOT_VALID_AT_TIME';
      reason: string;
    }
  | {
      status: 'invalid';
      info?: TokenInfo;
      code:
        | 'TSA_TOKEN_MALFORMED'
        | 'TSA_SIGNATURE_INVALID'
        | 'TSA_IMPRINT_MISMATCH'
        | 'TSA_EKU_INVALID'
        | 'TSA_CERT_INVALID';
      reason: string;
    };

const ID_EXT_KEY_USAGE = '2.5.29.37';
const ID_KP_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';

/** Parses DER certificates (the trusted roots); throws TimestampError TSA_ROOTS_MALFORMED naming the one that fails. */
function parseRoots(roots: readonly Uint8Array[]): Certificate[] {
  return roots.map((der, i) => {
    try {
      return new Certificate({ schema: decodeWhole(der, `root ${i + 1}`) });
    } catch (e) {
      throw new TimestampError(
        'TSA_ROOTS_MALFORMED',
        `trusted root ${i + 1} is not an X.509 certificate: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e }
      );
    }
  });
}

/** Why the certificate may not sign time-stamps (RFC 3161 2.3), or undefined if it may. */
function ekuProblem(cert: Certificate): string | undefined {
  const who = `the signing certificate "${formatName(cert.subject)}"`;
  const exts = cert.extensions?.filter((e) => e.extnID === ID_EXT_KEY_USAGE) ?? [];
  if (exts.length === 0) return `${who} has no extendedKeyUsage extension`;
  if (exts.length > 1) return `${who} has ${exts.length} extendedKeyUsage extensions`;
  const purposes = (exts[0].parsedValue as { keyPurposes?: unknown } | undefined)?.keyPurposes;
  if (!Array.isArray(purposes)) return `${who} has an unreadable extendedKeyUsage extension`;
  if (!purposes.includes(ID_KP_TIME_STAMPING))
    return `${who}'s extendedKeyUsage (${purposes.join(', ')}) lacks id-kp-timeStamping`;
  if (!exts[0].critical) return `${who}'s extendedKeyUsage is not marked critical, as RFC 3161 section 2.3 requires`;
  return undefined;
}

/**
 * Verifies `token` (a DER TimeStampToken) over `imprint` (the SHA-256 it should time-stamp) against `roots`
 * (DER certificates the user trusts). Never throws on a hostile token; throws TimestampError
 * TSA_ROOTS_MALFORMED if a root is not a certificate (use parsePemCertificates to read roots).
 */
export async function verifyTimestampToken(
  token: Uint8Array,
  imprint: Uint8Array,
  roots: readonly Uint8Array[]
): Promise<TokenVerdict> {
  const rootCerts = parseRoots(roots);
  try {
    return await verify(token, imprint, rootCerts);
  } catch (e) {
    // pkijs and asn1js throw on structures they do not expect; such a token is malformed.
    return {
      status: 'invalid',
      code: 'TSA_TOKEN_MALFORMED',
      reason: `the token could not be read: ${e instanceof Error ? e.message : String(e)}`
    };
  }
}

async function verify(token: Uint8Array, imprint: Uint8Array, roots: Certificate[]): Promise<TokenVerdict> {
  let parsed;
  try {
    parsed = parseToken(token);
  } catch (e) {
    if (e instanceof TokenFormatError) return { status: 'invalid', code: 'TSA_TOKEN_MALFORMED', reason: e.message };
    throw e;
  }
  const sig = await checkTokenSignature(parsed, roots);
  const info = describeToken(parsed, sig.signer);
  const stamped = sha256Imprint(parsed);
  if (typeof stamped === 'string') return { status: 'invalid', info, code: 'TSA_IMPRINT_MISMATCH', reason: stamped };
  if (!bytesEqual(stamped, imprint)) {
    return {
      status: 'invalid',
      info,
      code: 'TSA_IMPRINT_MISMATCH',
      reason: `the token time-stamps ${toHex(stamped)}, not ${toHex(imprint)}`
    };
  }
  if (!sig.ok) {
    return {
      status: 'invalid',
      info,
      code: sig.kind === 'malformed' ? 'TSA_TOKEN_MALFORMED' : 'TSA_SIGNATURE_INVALID',
      reason: sig.reason
    };
  }
  const eku = ekuProblem(sig.signer);
  if (eku) return { status: 'invalid', info, code: 'TSA_EKU_INVALID', reason: eku };
  if (roots.length === 0)
    return { status: 'untrusted', info, code: 'TSA_NO_ROOTS', reason: 'no trusted roots were given' };
  const chain = await buildChain(sig.signer, parsed.certificates, roots, parsed.genTime);
  if (chain.ok) return { status: 'trusted', info, root: formatName(chain.root.subject) };
  if (chain.status === 'invalid') return { status: 'invalid', info, code: chain.code, reason: chain.reason };
  return { status: 'untrusted', info, code: chain.code, reason: chain.reason };
}

/** What a token says, without any check of its signature or trust. Throws TimestampError TSA_TOKEN_MALFORMED. */
export function tokenInfo(token: Uint8Array): TokenInfo {
  try {
    const parsed = parseToken(token);
    const si = parsed.signedData.signerInfos[0];
    return describeToken(parsed, si && findSignerSync(si, parsed.certificates));
  } catch (e) {
    throw new TimestampError(
      'TSA_TOKEN_MALFORMED',
      e instanceof TokenFormatError
        ? e.message
        : `the token could not be read: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e }
    );
  }
}
