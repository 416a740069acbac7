/**
 * verifyTimestampToken (core/timestamp/verify.ts) on tokens from real test TSAs (openssl ts -reply; see
 * tests/helpers/tsa.ts): trusted with the issuing root, untrusted with another or none, invalid for another
 * imprint, a damaged token, a TSA certificate without a critical timeStamping EKU; untrusted when the TSA
 * certificate was not valid at genTime. Stock `openssl ts -verify` is asked the same questions.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/core/bytes.ts';
import { createTimestampRequest } from '../../../src/lib/core/timestamp/request.ts';
import { tokenFromResponse } from '../../../src/lib/core/timestamp/response.ts';
import { parseGeneralizedTime } from '../../../src/lib/core/timestamp/token.ts';
import { tokenInfo, verifyTimestampToken, type TokenVerdict } from '../../../src/lib/core/timestamp/verify.ts';
import {
  makeOtherRootPem,
  openssl,
  pemToDer,
  startTestTsa,
  type TestTsa,
  type TestTsaOptions
} from '../../helpers/tsa.ts';

interface Stamp {
  token: Uint8Array;
  response: Uint8Array;
  query: Uint8Array;
  imprint: Uint8Array;
}

async function stamp(tsa: TestTsa): Promise<Stamp> {
  const imprint = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(8));
  const query = createTimestampRequest(imprint, nonce);
  const response = await tsa.reply(query);
  return { token: await tokenFromResponse(response, { imprint, nonce }), response, query, imprint };
}

const ASN1_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function expectVerdict(v: TokenVerdict, status: TokenVerdict['status'], code?: string) {
  expect({ status: v.status, code: 'code' in v ? v.code : undefined }, 'reason' in v ? v.reason : '').toEqual({
    status,
    code
  });
}

let work: string;
const tsas: Record<string, TestTsa> = {};
const stamps: Record<string, Stamp> = {};
let otherRootPem: string;

const KINDS: Record<string, TestTsaOptions> = {
  p256: {},
  rsa: { keyType: 'rsa' },
  nonCritical: { eku: 'non-critical' },
  noEku: { eku: 'none' },
  expired: { certNotAfterDays: -2 },
  chain: { intermediate: true, secondRoot: true }
};

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tst-verify-'));
  otherRootPem = await makeOtherRootPem();
  await Promise.all(
    Object.entries(KINDS).map(async ([k, o]) => {
      tsas[k] = await startTestTsa(o);
      stamps[k] = await stamp(tsas[k]);
    })
  );
});
afterAll(async () => {
  await Promise.all(Object.values(tsas).map((t) => t.close()));
  if (work) await rm(work, { recursive: true, force: true });
});

/** `openssl ts -verify` of a response against its query and a CA file: true when openssl says OK. */
async function opensslVerifies(s: Stamp, caPem: string): Promise<boolean> {
  const id = Math.random().toString(36).slice(2);
  const [resp, query, ca] = ['tsr', 'tsq', 'pem'].map((e) => path.join(work, `${id}.${e}`));
  await writeFile(resp, s.response);
  await writeFile(query, s.query);
  await writeFile(ca, caPem);
  return new Promise((resolve) => {
    execFile('openssl', ['ts', '-verify', '-in', resp, '-queryfile', query, '-CAfile', ca], (err, stdout) =>
      resolve(!err && /Verification: OK/.test(stdout))
    );
  });
}

describe('verifyTimestampToken: trust', () => {
  it('trusts a token of the test TSA with its root, and says what it stamps', async () => {
    for (const kind of ['p256', 'rsa']) {
      const { token, imprint } = stamps[kind];
      const v = await verifyTimestampToken(token, imprint, [tsas[kind].rootDer]);
      expectVerdict(v, 'trusted');
      if (v.status !== 'trusted') continue;
      expect(v.root).toBe(tsas[kind].rootSubject);
      expect(v.info.tsa).toBe(tsas[kind].tsaSubject);
      expect(v.info.genTime).toMatch(ASN1_TIME);
      expect(Math.abs(Date.parse(v.info.genTime) - Date.now())).toBeLessThan(5 * 60_000);
      expect(v.info.imprint).toBe(toHex(imprint));
      expect(v.info.policy).toBe('1.3.6.1.4.1.99999.1.1');
      expect(v.info.accuracySeconds).toBe(1.5);
      expect(v.info.serial).toMatch(/^[0-9a-f]+$/);
      expect(tokenInfo(token)).toEqual(v.info);
    }
  });

  it('names the TSA as openssl does (RFC 2253 order)', async () => {
    const pemFile = path.join(work, 'tsa-cert.pem');
    await writeFile(pemFile, tsas.rsa.tsaCertPem);
    const out = (await openssl(['x509', '-in', pemFile, '-noout', '-subject', '-nameopt', 'RFC2253']))
      .toString()
      .trim();
    expect(out.replace(/^subject=/, '').replace(/,/g, ', ')).toBe(tokenInfo(stamps.rsa.token).tsa);
  });

  it('is untrusted TSA_ROOT_UNKNOWN with another root, naming where the chain stops', async () => {
    const v = await verifyTimestampToken(stamps.p256.token, stamps.p256.imprint, [pemToDer(otherRootPem)]);
    expectVerdict(v, 'untrusted', 'TSA_ROOT_UNKNOWN');
    if (v.status === 'untrusted') {
      expect(v.reason).toContain(tsas.p256.rootSubject);
      expect(v.info.tsa).toBe(tsas.p256.tsaSubject);
    }
  });

  it('is untrusted TSA_NO_ROOTS without roots', async () => {
    const v = await verifyTimestampToken(stamps.p256.token, stamps.p256.imprint, []);
    expectVerdict(v, 'untrusted', 'TSA_NO_ROOTS');
    if (v.status === 'untrusted') expect(v.reason).toBe('no trusted roots were given');
  });

  it('follows an intermediate CA carried in the token, and picks the right root among several', async () => {
    const t = tsas.chain;
    const { token, imprint } = stamps.chain;
    const v = await verifyTimestampToken(token, imprint, [t.secondRootDer!, pemToDer(otherRootPem), t.rootDer]);
    expectVerdict(v, 'trusted');
    if (v.status === 'trusted') expect(v.root).toBe(t.rootSubject);
    const wrong = await verifyTimestampToken(token, imprint, [t.secondRootDer!]);
    expectVerdict(wrong, 'untrusted', 'TSA_ROOT_UNKNOWN');
    if (wrong.status === 'untrusted') expect(wrong.reason).toContain(t.rootSubject); // the intermediate's issuer
    // the TSA's own root does not vouch for another TSA's token
    expectVerdict(await verifyTimestampToken(token, imprint, [tsas.p256.rootDer]), 'untrusted', 'TSA_ROOT_UNKNOWN');
  });

  it('is untrusted TSA_CERT_NOT_VALID_AT_TIME when the TSA certificate had expired at genTime', async () => {
    const { token, imprint } = stamps.expired;
    const v = await verifyTimestampToken(token, imprint, [tsas.expired.rootDer]);
    expectVerdict(v, 'untrusted', 'TSA_CERT_NOT_VALID_AT_TIME');
    if (v.status === 'untrusted') {
      expect(v.reason).toContain(tsas.expired.tsaSubject);
      expect(v.reason).toMatch(
        /valid from \d{4}-\d\d-\d\dT[\d:]+Z to \d{4}-\d\d-\d\dT[\d:]+Z, not at the time-stamp's time/
      );
    }
  });

  it('agrees with stock openssl ts -verify', async () => {
    expect(await opensslVerifies(stamps.p256, tsas.p256.rootPem)).toBe(true);
    expect(await opensslVerifies(stamps.rsa, tsas.rsa.rootPem)).toBe(true);
    expect(await opensslVerifies(stamps.chain, tsas.chain.rootPem)).toBe(true);
    expect(await opensslVerifies(stamps.p256, otherRootPem)).toBe(false);
    expect(await opensslVerifies(stamps.expired, tsas.expired.rootPem)).toBe(false);
    // and openssl rejects the tokens whose certificate lacks a critical timeStamping EKU, as we do
    expect(await opensslVerifies(stamps.nonCritical, tsas.nonCritical.rootPem)).toBe(false);
    expect(await opensslVerifies(stamps.noEku, tsas.noEku.rootPem)).toBe(false);
  });
});

describe('verifyTimestampToken: invalid tokens', () => {
  it('is invalid TSA_IMPRINT_MISMATCH for another imprint', async () => {
    const other = stamps.p256.imprint.slice();
    other[0] ^= 0x80;
    const v = await verifyTimestampToken(stamps.p256.token, other, [tsas.p256.rootDer]);
    expectVerdict(v, 'invalid', 'TSA_IMPRINT_MISMATCH');
    if (v.status === 'invalid') {
      expect(v.info?.imprint).toBe(toHex(stamps.p256.imprint));
      expect(v.reason).toContain(toHex(other));
    }
  });

  it('is invalid TSA_EKU_INVALID when the TSA certificate lacks a critical timeStamping EKU (RFC 3161 2.3)', async () => {
    const nc = await verifyTimestampToken(stamps.nonCritical.token, stamps.nonCritical.imprint, [
      tsas.nonCritical.rootDer
    ]);
    expectVerdict(nc, 'invalid', 'TSA_EKU_INVALID');
    if (nc.status === 'invalid') expect(nc.reason).toMatch(/not marked critical/);
    const none = await verifyTimestampToken(stamps.noEku.token, stamps.noEku.imprint, [tsas.noEku.rootDer]);
    expectVerdict(none, 'invalid', 'TSA_EKU_INVALID');
    if (none.status === 'invalid') expect(none.reason).toMatch(/no extendedKeyUsage/);
  });

  it('is invalid TSA_SIGNATURE_INVALID when a signed byte changes', async () => {
    const { token, imprint } = stamps.rsa;
    const info = tokenInfo(token);
    const roots = [tsas.rsa.rootDer];
    const at = (needle: Uint8Array) => Buffer.from(token).indexOf(Buffer.from(needle));
    // a digit of genTime inside the TSTInfo
    const genTimeAt = at(new TextEncoder().encode(info.genTime.replace(/[-:T]/g, '').replace(/Z$/, '')));
    expect(genTimeAt).toBeGreaterThan(0);
    // a letter of the TSA's name inside its certificate (which the ESS signing-certificate attribute hashes)
    const nameAt = at(new TextEncoder().encode(tsas.rsa.tsaSubject.slice(3, 11)));
    expect(nameAt).toBeGreaterThan(0);
    for (const [where, reason] of [
      [genTimeAt + 13, /message-digest/],
      [nameAt + 2, /signing-certificate/],
      [token.length - 5, /does not verify/]
    ] as const) {
      const t = token.slice();
      t[where] ^= 0x01;
      const v = await verifyTimestampToken(t, imprint, roots);
      expectVerdict(v, 'invalid', 'TSA_SIGNATURE_INVALID');
      if (v.status === 'invalid') expect(v.reason).toMatch(reason);
    }
  });

  it('never throws on a flipped byte, and a flip never changes what a trusted token says', async () => {
    const { token, imprint } = stamps.p256;
    const roots = [tsas.p256.rootDer];
    const expected = tokenInfo(token);
    const seen = new Set<string>();
    // every third byte (the sweep is CPU-bound), alternating the low and the high bit
    for (let i = 0; i < token.length; i += 3) {
      const t = token.slice();
      t[i] ^= i % 2 ? 0x01 : 0x80;
      const v = await verifyTimestampToken(t, imprint, roots);
      seen.add(`${v.status}${'code' in v ? ':' + v.code : ''}`);
      if (v.status === 'trusted')
        expect(v.info, `byte ${i}`).toEqual(expected); // only unsigned framing changed
      else expect(v.reason.length, `byte ${i}`).toBeGreaterThan(0);
    }
    expect(seen).toContain('invalid:TSA_SIGNATURE_INVALID');
    expect(seen).toContain('invalid:TSA_TOKEN_MALFORMED');
  });

  it('is invalid TSA_TOKEN_MALFORMED for bytes that are no token, naming what is wrong', async () => {
    const { imprint } = stamps.p256;
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /not ASN\.1/],
      [new Uint8Array([0x30, 0x00]), /ContentInfo/],
      [crypto.getRandomValues(new Uint8Array(500)), /./],
      [new Uint8Array(64 * 1024 + 1), /more than 65536/],
      [new Uint8Array([...stamps.p256.token, 0]), /after its end/],
      [stamps.p256.response, /ContentInfo|content type/]
    ];
    for (const [bytes, reason] of cases) {
      const v = await verifyTimestampToken(bytes, imprint, [tsas.p256.rootDer]);
      expectVerdict(v, 'invalid', 'TSA_TOKEN_MALFORMED');
      if (v.status === 'invalid') expect(v.reason).toMatch(reason);
    }
    expect(() => tokenInfo(new Uint8Array([1, 2, 3]))).toThrow(
      expect.objectContaining({ code: 'TSA_TOKEN_MALFORMED' })
    );
  });

  it('is malformed when the signed content is not a TSTInfo, or the signer names no signing certificate', async () => {
    const t = tsas.p256;
    const dir = t.dir;
    await writeFile(path.join(dir, 'token.der'), stamps.p256.token);
    await openssl(['cms', '-verify', '-noverify', '-inform', 'DER', '-in', 'token.der', '-binary', '-out', 'tst.der'], {
      cwd: dir
    });
    // id-data content (a plain CMS signature by the TSA's key)
    await openssl(
      [
        'cms',
        '-sign',
        '-binary',
        '-nodetach',
        '-in',
        'tst.der',
        '-signer',
        'tsa.pem',
        '-inkey',
        'tsa.key',
        '-outform',
        'DER',
        '-out',
        'data.der'
      ],
      { cwd: dir }
    );
    // TSTInfo content, but without the ESS signing-certificate attribute (no -cades)
    await openssl(
      [
        'cms',
        '-sign',
        '-binary',
        '-nodetach',
        '-in',
        'tst.der',
        '-econtent_type',
        '1.2.840.113549.1.9.16.1.4',
        '-signer',
        'tsa.pem',
        '-inkey',
        'tsa.key',
        '-outform',
        'DER',
        '-out',
        'noess.der'
      ],
      { cwd: dir }
    );
    const { readFile } = await import('node:fs/promises');
    const data = await verifyTimestampToken(
      new Uint8Array(await readFile(path.join(dir, 'data.der'))),
      stamps.p256.imprint,
      [t.rootDer]
    );
    expectVerdict(data, 'invalid', 'TSA_TOKEN_MALFORMED');
    if (data.status === 'invalid') expect(data.reason).toMatch(/not id-ct-TSTInfo/);
    const noEss = await verifyTimestampToken(
      new Uint8Array(await readFile(path.join(dir, 'noess.der'))),
      stamps.p256.imprint,
      [t.rootDer]
    );
    expectVerdict(noEss, 'invalid', 'TSA_TOKEN_MALFORMED');
    if (noEss.status === 'invalid') expect(noEss.reason).toMatch(/ESS signing-certificate/);
  });

  it('throws TSA_ROOTS_MALFORMED for a root that is not a certificate (a caller error, not a token verdict)', async () => {
    await expect(
      verifyTimestampToken(stamps.p256.token, stamps.p256.imprint, [tsas.p256.rootDer, new Uint8Array([0x30, 0x00])])
    ).rejects.toMatchObject({
      code: 'TSA_ROOTS_MALFORMED',
      message: expect.stringContaining('root 2')
    });
  });
});

describe('genTime', () => {
  it('is RFC 3339 UTC, keeping fractional seconds', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(parseGeneralizedTime(enc('20261207170000Z')).text).toBe('2026-12-07T17:00:00Z');
    expect(parseGeneralizedTime(enc('20261207170000.25Z')).text).toBe('2026-12-07T17:00:00.25Z');
    expect(parseGeneralizedTime(enc('20261207170000.25Z')).date.toISOString()).toBe('2026-12-07T17:00:00.250Z');
    for (const bad of [
      '20261207170000',
      '20261307170000Z',
      '20260230170000Z',
      '20261207250000Z',
      '2026120717000Z',
      '20261207170000+0100'
    ]) {
      expect(() => parseGeneralizedTime(enc(bad)), bad).toThrow(/genTime/);
    }
  });
});
