/**
 * RFC 3161 time-stamp requests: the imprint of a checkpoint, a DER TimeStampReq for it, and a strict parser
 * (for a relay that forwards only well-formed requests).
 *
 *   TimeStampReq ::= SEQUENCE { version INTEGER { v1(1) }, messageImprint MessageImprint,
 *     reqPolicy TSAPolicyId OPTIONAL, nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE,
 *     extensions [0] IMPLICIT Extensions OPTIONAL }
 *   MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
 */
import { bytesEqual, utf8 } from '../bytes.ts';
import {
  DerError,
  SHA256_OID_DER,
  TAG,
  encodeTlv,
  integerMagnitude,
  readChildren,
  readWhole,
  unsignedIntegerContents,
  type Tlv
} from './der.ts';
import { TimestampError } from './errors.ts';

/** Largest request parseTimestampRequest accepts. Ours are 60-70 bytes. */
export const MAX_REQUEST_BYTES = 1024;

/**
 * SHA-256 of the UTF-8 bytes of a checkpoint's signed text: the "<origin>\n<size>\n<base64 root>\n" part of the
 * note (ledger-schema/README.md section 14), exactly as the caller passes it.
 */
export async function checkpointImprint(text: string): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', utf8(text) as Uint8Array<ArrayBuffer>));
}

/**
 * A DER TimeStampReq v1: SHA-256 imprint (parameters NULL, as openssl writes them), the nonce as a positive
 * INTEGER made from the given bytes (the caller draws 8 random bytes), certReq TRUE, no policy, no extensions.
 */
export function createTimestampRequest(imprint: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (!(imprint instanceof Uint8Array) || imprint.length !== 32) {
    throw new TimestampError('TSA_REQUEST_INVALID', `a SHA-256 imprint is 32 bytes, not ${imprint?.length}`);
  }
  if (!(nonce instanceof Uint8Array) || nonce.length === 0 || nonce.length > 32) {
    throw new TimestampError('TSA_REQUEST_INVALID', 'the nonce must be 1 to 32 bytes');
  }
  return encodeTlv(
    TAG.SEQUENCE,
    encodeTlv(TAG.INTEGER, new Uint8Array([1])),
    encodeTlv(
      TAG.SEQUENCE,
      encodeTlv(TAG.SEQUENCE, SHA256_OID_DER, encodeTlv(TAG.NULL)),
      encodeTlv(TAG.OCTET_STRING, imprint)
    ),
    encodeTlv(TAG.INTEGER, unsignedIntegerContents(nonce)),
    encodeTlv(TAG.BOOLEAN, new Uint8Array([0xff]))
  );
}

/**
 * Parses a TimeStampReq strictly: DER, at most 1 KiB, version 1, a SHA-256 imprint of 32 bytes (parameters absent
 * or NULL), then optionally a policy OID, a non-negative nonce and certReq; no extensions, nothing else.
 * Returns the imprint and the nonce's magnitude (big-endian, without leading zero bytes). Throws
 * TimestampError TSA_REQUEST_INVALID naming what is wrong.
 */
export function parseTimestampRequest(der: Uint8Array): { imprint: Uint8Array; nonce?: Uint8Array } {
  const fail = (why: string): never => {
    throw new TimestampError('TSA_REQUEST_INVALID', `not a valid time-stamp request: ${why}`);
  };
  if (!(der instanceof Uint8Array)) return fail('not bytes');
  if (der.length > MAX_REQUEST_BYTES) return fail(`${der.length} bytes, more than ${MAX_REQUEST_BYTES}`);
  try {
    const top = readWhole(der);
    if (top.tag !== TAG.SEQUENCE) return fail('not a SEQUENCE');
    const items = readChildren(top.value);
    const [version, messageImprint, ...rest] = items;
    if (!version || version.tag !== TAG.INTEGER || version.value.length !== 1 || version.value[0] !== 1) {
      return fail('version is not 1');
    }
    if (!messageImprint || messageImprint.tag !== TAG.SEQUENCE) return fail('no messageImprint');
    const imprint = parseImprint(messageImprint, fail);
    let nonce: Uint8Array | undefined;
    let i = 0;
    if (rest[i]?.tag === TAG.OID) {
      if (rest[i].value.length === 0) return fail('empty policy OID');
      i++;
    }
    if (rest[i]?.tag === TAG.INTEGER) {
      try {
        nonce = new Uint8Array(integerMagnitude(rest[i].value));
      } catch (e) {
        return fail(`nonce: ${(e as Error).message}`);
      }
      if (nonce.length > 32) return fail('nonce longer than 32 bytes');
      i++;
    }
    if (rest[i]?.tag === TAG.BOOLEAN) {
      const v = rest[i].value;
      if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) return fail('certReq is not a DER BOOLEAN');
      i++;
    }
    if (i < rest.length) {
      return fail(
        rest[i].tag === 0xa0 ? 'extensions are not accepted' : `unexpected element (tag 0x${rest[i].tag.toString(16)})`
      );
    }
    return nonce ? { imprint, nonce } : { imprint };
  } catch (e) {
    if (e instanceof DerError) return fail(`DER: ${e.message}`);
    throw e;
  }
}

function parseImprint(messageImprint: Tlv, fail: (why: string) => never): Uint8Array {
  const [alg, hashed, extra] = readChildren(messageImprint.value);
  if (!alg || alg.tag !== TAG.SEQUENCE || !hashed || extra) return fail('messageImprint is not { algorithm, hash }');
  const [oid, params, more] = readChildren(alg.value);
  if (!oid || !bytesEqual(oid.raw, SHA256_OID_DER)) return fail('the imprint algorithm is not SHA-256');
  if (more || (params && (params.tag !== TAG.NULL || params.value.length !== 0))) {
    return fail('SHA-256 parameters must be absent or NULL');
  }
  if (hashed.tag !== TAG.OCTET_STRING || hashed.value.length !== 32) return fail('the imprint is not 32 bytes');
  return new Uint8Array(hashed.value);
}
