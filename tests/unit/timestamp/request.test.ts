/**
 * Time-stamp requests (core/timestamp/request.ts): the checkpoint imprint, our DER TimeStampReq read back by
 * our strict parser and by stock `openssl ts -query`, openssl's requests read by our parser, and the malformed
 * requests a relay must refuse.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/core/bytes.ts';
import { isTimestampError } from '../../../src/lib/core/timestamp/errors.ts';
import {
  checkpointImprint,
  createTimestampRequest,
  parseTimestampRequest
} from '../../../src/lib/core/timestamp/request.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'tsq-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const imprint = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function invalid(der: Uint8Array, words: RegExp) {
  try {
    parseTimestampRequest(der);
  } catch (e) {
    expect(isTimestampError(e) && e.code).toBe('TSA_REQUEST_INVALID');
    expect((e as Error).message).toMatch(words);
    return;
  }
  expect.fail('parsed');
}

describe('checkpointImprint', () => {
  it('is SHA-256 of the UTF-8 text, exactly as given', async () => {
    const text =
      'provenance-ledger/1bde14cc7b58790e/34750f98bd59fcfc\n7\np7iiC4hVTn/BY4NVxKP9Dl6/9lu6FJTSnB1oPbJR/bM=\n';
    expect(toHex(await checkpointImprint(text))).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    expect(toHex(await checkpointImprint('é'))).toBe(
      createHash('sha256')
        .update(Buffer.from([0xc3, 0xa9]))
        .digest('hex')
    );
    expect(toHex(await checkpointImprint(text.trimEnd()))).not.toBe(toHex(await checkpointImprint(text)));
  });
});

describe('createTimestampRequest', () => {
  it('writes the exact DER of a v1 request: SHA-256 with NULL parameters, positive nonce, certReq TRUE', () => {
    const der = createTimestampRequest(new Uint8Array(32).fill(0xaa), hex('0102030405060708'));
    expect(toHex(der)).toBe(
      '3043' +
        '020101' +
        '3031' +
        '300d' +
        '0609608648016503040201' +
        '0500' +
        '0420' +
        'aa'.repeat(32) +
        '02080102030405060708' +
        '0101ff'
    );
  });

  it('makes the nonce a positive, minimal INTEGER', () => {
    const high = createTimestampRequest(imprint, hex('80ffffffffffffff'));
    expect(toHex(high)).toContain('0209' + '0080ffffffffffffff');
    const zeros = createTimestampRequest(imprint, hex('0000000000000005'));
    expect(toHex(zeros)).toContain('020105');
    expect(parseTimestampRequest(high).nonce).toEqual(hex('80ffffffffffffff'));
    expect(parseTimestampRequest(zeros).nonce).toEqual(hex('05'));
  });

  it('round-trips through the strict parser', () => {
    for (let i = 0; i < 50; i++) {
      const im = crypto.getRandomValues(new Uint8Array(32));
      const nonce = crypto.getRandomValues(new Uint8Array(8));
      nonce[0] |= 1; // no leading zero byte, so the magnitude is the 8 bytes
      const parsed = parseTimestampRequest(createTimestampRequest(im, nonce));
      expect(parsed.imprint).toEqual(im);
      expect(parsed.nonce).toEqual(nonce);
    }
  });

  it('refuses an imprint that is not 32 bytes and an empty nonce', () => {
    expect(() => createTimestampRequest(new Uint8Array(20), hex('01'))).toThrow(/32 bytes/);
    expect(() => createTimestampRequest(imprint, new Uint8Array(0))).toThrow(/nonce/);
  });

  it('is read by stock openssl ts -query as SHA-256 over our imprint, with our nonce and certReq', () => {
    const file = path.join(dir, 'ours.tsq');
    writeFileSync(file, createTimestampRequest(imprint, hex('1122334455667788')));
    const text = execFileSync('openssl', ['ts', '-query', '-in', file, '-text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe']
    });
    expect(text).toMatch(/Version: 1/);
    expect(text).toMatch(/Hash Algorithm: sha256/);
    const dumped = [...text.matchAll(/^\s+[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]?)+)/gm)]
      .map((m) => m[1].replace(/[ -]/g, ''))
      .join('');
    expect(dumped).toBe(toHex(imprint));
    expect(text).toMatch(/Nonce: 0x1122334455667788/);
    expect(text).toMatch(/Certificate required: yes/);
    expect(text).toMatch(/Policy OID: unspecified/);
  });
});

describe('parseTimestampRequest', () => {
  it("reads openssl's own requests, with and without nonce, and with a policy", () => {
    const digest = toHex(imprint);
    const cases: Array<[string[], boolean]> = [
      [['-cert'], true],
      [['-no_nonce'], false],
      [['-tspolicy', '1.2.3.4', '-cert'], true]
    ];
    for (const [extra, hasNonce] of cases) {
      const file = path.join(dir, 'openssl.tsq');
      execFileSync('openssl', ['ts', '-query', '-digest', digest, '-sha256', ...extra, '-out', file], {
        stdio: 'ignore'
      });
      const parsed = parseTimestampRequest(new Uint8Array(readFileSync(file)));
      expect(parsed.imprint).toEqual(imprint);
      expect(parsed.nonce !== undefined).toBe(hasNonce);
    }
  });

  it('accepts SHA-256 without parameters', () => {
    const der = hex('3034 020101 302f 300b 0609608648016503040201 0420' + '11'.repeat(32));
    expect(parseTimestampRequest(der)).toEqual({ imprint: new Uint8Array(32).fill(0x11) });
  });

  it('refuses what is not a v1 SHA-256 request, naming the problem', () => {
    const good = createTimestampRequest(imprint, hex('0102030405060708'));
    const swap = (from: string, to: string) => hex(toHex(good).replace(from, to));
    invalid(swap('020101', '020102'), /version/);
    invalid(swap('0609608648016503040201', '06096086480165030402' + '02'), /SHA-256/); // SHA-384 OID
    invalid(good.subarray(0, good.length - 1), /DER/);
    invalid(new Uint8Array([...good, 0]), /trailing/);
    invalid(swap('0101ff', '010101'), /certReq/);
    invalid(new Uint8Array(0), /DER/);
    invalid(new Uint8Array(2000), /more than 1024/);
    // SHA-1 imprint of 20 bytes
    invalid(hex('3024 020101 301f 3007 06052b0e03021a 0414' + '22'.repeat(20)), /SHA-256/);
    // SHA-256 OID with a 31-byte hash
    invalid(hex('3038 020101 3030 300d 0609608648016503040201 0500 041f' + '33'.repeat(31) + '0101ff'), /not 32 bytes/);
    // a negative nonce
    invalid(swap('02080102030405060708', '020881020304050607' + '08'), /negative/);
    // a non-minimal length (0x81 0x41 instead of 0x41)
    invalid(new Uint8Array([0x30, 0x81, good[1], ...good.subarray(2)]), /minimal/);
    // indefinite length
    invalid(new Uint8Array([0x30, 0x80, ...good.subarray(2), 0, 0]), /indefinite/);
    // extensions [0]
    const ext = new Uint8Array([...good.subarray(2), 0xa0, 0x00]);
    invalid(new Uint8Array([0x30, ext.length, ...ext]), /extensions/);
    // not a SEQUENCE
    invalid(new Uint8Array([0x31, ...good.subarray(1)]), /SEQUENCE/);
  });
});
