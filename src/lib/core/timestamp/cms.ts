/**
 * The CMS signature of a time-stamp token (RFC 5652 section 5.4-5.6, RFC 3161 section 2.4.1, RFC 5035): one
 * signer, whose certificate the token (or `extraCerts`) carries; signed attributes with content-type
 * id-ct-TSTInfo, message-digest of the TSTInfo, and an ESS signing-certificate (v1 or v2) naming that
 * certificate; the signature over the signed attributes verifies with its public key. No trust decision here.
 */
import * as asn1js from 'asn1js';
import { Certificate, type SignerInfo } from 'pkijs';
import { bytesEqual } from '../bytes.ts';
import { webCryptoEngine } from './engine.ts';
import { ID_CT_TSTINFO, type ParsedToken } from './token.ts';

const ATTR_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ATTR_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const ATTR_SIGNING_CERT = '1.2.840.113549.1.9.16.2.12';
const ATTR_SIGNING_CERT_V2 = '1.2.840.113549.1.9.16.2.47';
const ID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const ID_SKI = '2.5.29.14';

const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512'
};
const SHA1 = '1.3.14.3.2.26';

export type SignatureCheck =
  | { ok: true; signer: Certificate }
  | { ok: false; kind: 'malformed' | 'signature'; reason: string; signer?: Certificate };

async function digest(name: string, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest(name, data as Uint8Array<ArrayBuffer>));
}

/** The DER of a certificate as carried (pkijs re-encodes the parsed structure; DER input gives DER back). */
export function certificateDer(cert: Certificate): Uint8Array {
  return new Uint8Array(cert.toSchema().toBER(false));
}

type Hex = { valueBlock?: { valueHexView?: Uint8Array } };

/** The signer's certificate by issuer and serial number, or by a subject key identifier extension. */
export function findSignerSync(si: SignerInfo, certs: readonly Certificate[]): Certificate | undefined {
  const sid = si.sid as { issuer?: unknown; serialNumber?: asn1js.Integer } & asn1js.AsnType;
  if (sid && 'issuer' in sid && sid.serialNumber) {
    return certs.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber!));
  }
  const keyId = subjectKeyId(si);
  return (
    keyId &&
    certs.find((c) => {
      const ski = c.extensions?.find((e) => e.extnID === ID_SKI)?.parsedValue as Hex | undefined;
      return ski?.valueBlock?.valueHexView && bytesEqual(new Uint8Array(ski.valueBlock.valueHexView), keyId);
    })
  );
}

/** The [0] SubjectKeyIdentifier of a signer identifier, if it is one. */
function subjectKeyId(si: SignerInfo): Uint8Array | undefined {
  const block = si.sid as unknown as asn1js.AsnType & Hex;
  if (!block || 'issuer' in block) return undefined;
  const v = block.idBlock?.isConstructed
    ? ((block as asn1js.Constructed).valueBlock.value[0] as Hex | undefined)?.valueBlock?.valueHexView
    : block.valueBlock?.valueHexView;
  return v && new Uint8Array(v);
}

async function findSigner(si: SignerInfo, certs: readonly Certificate[]): Promise<Certificate | undefined> {
  const found = findSignerSync(si, certs);
  if (found) return found;
  // RFC 5280 4.2.1.2 method 1 (SHA-1 of the public key), for certificates without the extension.
  const keyId = subjectKeyId(si);
  if (!keyId) return undefined;
  for (const c of certs) {
    if (bytesEqual(await digest('SHA-1', c.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView), keyId))
      return c;
  }
  return undefined;
}

function singleValue(si: SignerInfo, type: string): asn1js.AsnType | undefined | 'many' {
  const attrs = si.signedAttrs?.attributes.filter((a) => a.type === type) ?? [];
  if (attrs.length === 0) return undefined;
  if (attrs.length > 1 || attrs[0].values.length !== 1) return 'many';
  return attrs[0].values[0];
}

/** The hash algorithm and hash of the first ESSCertID(v2) of a signing-certificate attribute. */
function essCertId(value: asn1js.AsnType, v2: boolean): { alg: string; hash: Uint8Array } | string {
  const certs = (value as asn1js.Sequence).valueBlock?.value?.[0] as asn1js.Sequence | undefined;
  const first = certs?.valueBlock?.value?.[0] as asn1js.Sequence | undefined;
  const parts = first?.valueBlock?.value;
  if (!Array.isArray(parts) || parts.length === 0) return 'the signing-certificate attribute lists no certificate';
  let alg = v2 ? '2.16.840.1.101.3.4.2.1' : SHA1;
  let i = 0;
  if (v2 && parts[0] instanceof asn1js.Sequence) {
    const oid = parts[0].valueBlock.value[0];
    if (!(oid instanceof asn1js.ObjectIdentifier)) return 'the signing-certificate v2 hash algorithm is not an OID';
    alg = oid.valueBlock.toString();
    i = 1;
  }
  const hash = parts[i];
  if (!(hash instanceof asn1js.OctetString)) return 'the signing-certificate attribute has no certificate hash';
  return { alg, hash: new Uint8Array(hash.valueBlock.valueHexView) };
}

export async function checkTokenSignature(
  parsed: ParsedToken,
  extraCerts: readonly Certificate[] = []
): Promise<SignatureCheck> {
  const sis = parsed.signedData.signerInfos;
  if (sis.length !== 1) return { ok: false, kind: 'malformed', reason: `the token has ${sis.length} signers, not 1` };
  const si = sis[0];
  const signer = await findSigner(si, [...parsed.certificates, ...extraCerts]);
  if (!signer)
    return { ok: false, kind: 'malformed', reason: 'the token does not carry the certificate of its signer' };
  const bad = (kind: 'malformed' | 'signature', reason: string): SignatureCheck => ({
    ok: false,
    kind,
    reason,
    signer
  });
  if (!si.signedAttrs) return bad('malformed', 'the token has no signed attributes');
  const digestName = DIGESTS[si.digestAlgorithm.algorithmId];
  if (!digestName) return bad('malformed', `unsupported digest algorithm ${si.digestAlgorithm.algorithmId}`);

  const ct = singleValue(si, ATTR_CONTENT_TYPE);
  if (!ct || ct === 'many') return bad('malformed', 'the signed attributes lack a single content-type');
  if (!(ct instanceof asn1js.ObjectIdentifier) || ct.valueBlock.toString() !== ID_CT_TSTINFO) {
    return bad('signature', 'the signed content-type attribute is not id-ct-TSTInfo');
  }
  const md = singleValue(si, ATTR_MESSAGE_DIGEST);
  if (!md || md === 'many' || !(md instanceof asn1js.OctetString))
    return bad('malformed', 'the signed attributes lack a single message-digest');
  if (!bytesEqual(new Uint8Array(md.valueBlock.valueHexView), await digest(digestName, parsed.tstInfoDer))) {
    return bad('signature', 'the message-digest attribute does not match the TSTInfo (the content was altered)');
  }

  const v2 = singleValue(si, ATTR_SIGNING_CERT_V2);
  const v1 = singleValue(si, ATTR_SIGNING_CERT);
  const ess = v2 ?? v1;
  if (!ess || ess === 'many')
    return bad('malformed', 'the signed attributes lack an ESS signing-certificate (v1 or v2)');
  const id = essCertId(ess, v2 !== undefined);
  if (typeof id === 'string') return bad('malformed', id);
  const essDigest = id.alg === SHA1 ? 'SHA-1' : DIGESTS[id.alg];
  if (!essDigest) return bad('malformed', `unsupported signing-certificate hash algorithm ${id.alg}`);
  if (!bytesEqual(id.hash, await digest(essDigest, certificateDer(signer)))) {
    return bad('signature', 'the ESS signing-certificate attribute names another certificate than the signer');
  }

  let verified: boolean;
  try {
    const engine = webCryptoEngine();
    verified = await engine.verifyWithPublicKey(
      si.signedAttrs.encodedValue,
      si.signature,
      signer.subjectPublicKeyInfo,
      si.signatureAlgorithm,
      si.signatureAlgorithm.algorithmId === ID_RSA_ENCRYPTION ? digestName : undefined
    );
  } catch (e) {
    return bad('signature', `the signature could not be checked: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!verified) return bad('signature', 'the CMS signature does not verify with the signer certificate');
  return { ok: true, signer };
}
