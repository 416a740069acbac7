/**
 * The certificate path of a time-stamp signer: from the signer certificate, through certificates the token
 * carries, to one of the given trusted roots. Each link's signature must verify with its issuer's key, each
 * issuer below the root must be a CA, and every certificate on the path (the root included) must be valid at
 * the token's genTime. No revocation checking.
 */
import type { Certificate } from 'pkijs';
import { bytesEqual } from '../bytes.ts';
import { certificateDer } from './cms.ts';
import { formatName } from './dn.ts';
import { webCryptoEngine } from './engine.ts';

const ID_BASIC_CONSTRAINTS = '2.5.29.19';
const MAX_DEPTH = 8;

export type ChainResult =
  | { ok: true; root: Certificate; path: Certificate[] }
  | { ok: false; status: 'untrusted'; code: 'TSA_ROOT_UNKNOWN' | 'TSA_CERT_NOT_VALID_AT_TIME'; reason: string }
  | { ok: false; status: 'invalid'; code: 'TSA_CERT_INVALID'; reason: string };

const q = (c: Certificate) => `"${formatName(c.subject)}"`;
const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');

async function signedBy(cert: Certificate, issuer: Certificate): Promise<boolean> {
  try {
    return await cert.verify(issuer, webCryptoEngine());
  } catch {
    return false; // unsupported or unreadable algorithm or key
  }
}

function isCa(cert: Certificate): boolean {
  const bc = cert.extensions?.find((e) => e.extnID === ID_BASIC_CONSTRAINTS)?.parsedValue as
    { cA?: boolean } | undefined;
  return bc?.cA === true;
}

export async function buildChain(
  signer: Certificate,
  carried: readonly Certificate[],
  roots: readonly Certificate[],
  at: Date
): Promise<ChainResult> {
  const rootDers = roots.map(certificateDer);
  const path: Certificate[] = [signer];
  let current = signer;
  let root: Certificate | undefined;
  for (let depth = 0; !root; depth++) {
    if (depth >= MAX_DEPTH) {
      return {
        ok: false,
        status: 'untrusted',
        code: 'TSA_ROOT_UNKNOWN',
        reason: `no path to a given root within ${MAX_DEPTH} certificates`
      };
    }
    const der = certificateDer(current);
    const same = roots.find((_, i) => bytesEqual(rootDers[i], der));
    if (same) {
      root = same;
      path.pop(); // the root is reported separately
      break;
    }
    const rootsNamed = roots.filter((r) => r.subject.isEqual(current.issuer));
    for (const r of rootsNamed) {
      if (await signedBy(current, r)) {
        root = r;
        break;
      }
    }
    if (root) break;
    const carriedNamed = carried.filter((c) => !path.includes(c) && c.subject.isEqual(current.issuer));
    let next: Certificate | undefined;
    for (const c of carriedNamed) {
      if (await signedBy(current, c)) {
        next = c;
        break;
      }
    }
    if (!next) {
      const issuerName = `"${formatName(current.issuer)}"`;
      if (rootsNamed.length) {
        return {
          ok: false,
          status: 'untrusted',
          code: 'TSA_ROOT_UNKNOWN',
          reason: `the given root named ${issuerName} did not sign ${q(current)} (another key of the same name)`
        };
      }
      if (carriedNamed.length) {
        return {
          ok: false,
          status: 'invalid',
          code: 'TSA_CERT_INVALID',
          reason: `the signature of ${q(current)} does not verify with the key of its issuer ${issuerName}`
        };
      }
      if (current.subject.isEqual(current.issuer)) {
        return {
          ok: false,
          status: 'untrusted',
          code: 'TSA_ROOT_UNKNOWN',
          reason: `the chain ends at the self-signed ${q(current)}, which is not among the given roots`
        };
      }
      return {
        ok: false,
        status: 'untrusted',
        code: 'TSA_ROOT_UNKNOWN',
        reason: `the chain stops at issuer ${issuerName} (of ${q(current)}), which is not among the given roots`
      };
    }
    if (!isCa(next)) {
      return {
        ok: false,
        status: 'invalid',
        code: 'TSA_CERT_INVALID',
        reason: `${q(next)} issued ${q(current)} but is not a CA (basicConstraints)`
      };
    }
    path.push(next);
    current = next;
  }
  for (const c of [...path, root]) {
    const from = c.notBefore.value;
    const to = c.notAfter.value;
    if (!(from.getTime() <= at.getTime() && at.getTime() <= to.getTime())) {
      return {
        ok: false,
        status: 'untrusted',
        code: 'TSA_CERT_NOT_VALID_AT_TIME',
        reason: `the certificate ${q(c)} is valid from ${iso(from)} to ${iso(to)}, not at the time-stamp's time ${iso(at)}`
      };
    }
  }
  return { ok: true, root, path };
}
