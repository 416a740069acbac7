/**
 * Trusted roots as PEM (core/timestamp/pem.ts): certificates read from one or more blocks amid other text;
 * every failure names the block; subjects read as openssl prints them with -nameopt RFC2253.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateSubject, parsePemCertificates } from '../../../src/lib/core/timestamp/pem.ts';
import { TimestampError } from '../../../src/lib/core/timestamp/errors.ts';
import { makeOtherRootPem, openssl, pemToDer } from '../../helpers/tsa.ts';

let a: string;
let b: string;
beforeAll(async () => {
  [a, b] = await Promise.all([makeOtherRootPem('PEM Test Root A'), makeOtherRootPem('PEM Test Root, B + "quoted"')]);
});

function rootsError(text: string): TimestampError {
  try {
    parsePemCertificates(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TimestampError);
    expect((e as TimestampError).code).toBe('TSA_ROOTS_MALFORMED');
    return e as TimestampError;
  }
  return expect.fail('parsed');
}

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

describe('parsePemCertificates', () => {
  it('reads every certificate block in order, ignoring text and other blocks around them', () => {
    const text = `Our TSA roots\n${a}\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nsecond:\n${b.replace(/\n/g, '\r\n')}`;
    const certs = parsePemCertificates(text);
    expect(certs).toHaveLength(2);
    expect(certs[0]).toEqual(pemToDer(a));
    expect(certs[1]).toEqual(pemToDer(b));
  });

  it('names the block that is not a certificate', () => {
    const body = (pem: string) => pem.slice(pem.indexOf(BEGIN) + BEGIN.length, pem.indexOf(END));
    expect(rootsError('').message).toMatch(/no "-----BEGIN CERTIFICATE-----" block/);
    expect(rootsError('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----').message).toMatch(/no .* block/);
    expect(rootsError(`${a}\n${BEGIN}\n!!notbase64!!\n${END}\n`).message).toMatch(/block 2 is not valid base64/);
    // valid base64, not a certificate
    expect(rootsError(`${a}\n${BEGIN}\nMAA=\n${END}\n`).message).toMatch(/block 2 is not an X\.509 certificate/);
    // a certificate with a damaged byte in its structure
    const der = pemToDer(b);
    der[4] ^= 0xff;
    expect(rootsError(`${BEGIN}\n${Buffer.from(der).toString('base64')}\n${END}`).message).toMatch(
      /block 1 is not an X\.509 certificate/
    );
    // truncated: no END line before the next BEGIN, or at all
    expect(rootsError(`${BEGIN}${body(a)}\n${b}`).message).toMatch(/block 1 has no "-----END CERTIFICATE-----" line/);
    expect(rootsError(`${a}${BEGIN}${body(b)}`).message).toMatch(/block 2 has no/);
  });
});

describe('certificateSubject', () => {
  it('reads the subject as openssl -nameopt RFC2253 does, escapes included', async () => {
    for (const pem of [a, b]) {
      const out = (
        await openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: new TextEncoder().encode(pem) })
      )
        .toString()
        .trim();
      // openssl joins RDNs with ",", we with ", "
      const ours = certificateSubject(pemToDer(pem));
      expect(ours.split(/(?<!\\), /).join(',')).toBe(out.replace(/^subject=/, ''));
    }
    expect(certificateSubject(pemToDer(b))).toBe(
      'CN=PEM Test Root\\, B \\+ \\"quoted\\", O=Provenance Ledger Tests, C=ZZ'
    );
  });

  it('throws TSA_ROOTS_MALFORMED for bytes that are not a certificate', () => {
    expect(() => certificateSubject(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(
      expect.objectContaining({ code: 'TSA_ROOTS_MALFORMED' })
    );
  });
});
