/**
 * tokenFromResponse (core/timestamp/response.ts) against answers of the real test TSA (openssl ts -reply):
 * a granted reply gives the token; a refusal, another imprint, another nonce, a damaged signature or bytes that
 * are no response each give their own code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTimestampRequest } from '../../../src/lib/core/timestamp/request.ts';
import { failInfoWords, tokenFromResponse } from '../../../src/lib/core/timestamp/response.ts';
import { TimestampError } from '../../../src/lib/core/timestamp/errors.ts';
import { startTestTsa, type TestTsa } from '../../helpers/tsa.ts';

const imprint = new Uint8Array(32).fill(0x5a);
const nonce = Uint8Array.from([0x9c, 1, 2, 3, 4, 5, 6, 7]);

async function post(tsa: TestTsa, body: Uint8Array): Promise<Uint8Array> {
  const res = await fetch(tsa.url, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: body as Uint8Array<ArrayBuffer>
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/timestamp-reply');
  return new Uint8Array(await res.arrayBuffer());
}

async function failure(p: Promise<unknown>): Promise<TimestampError> {
  const e = await p.then(
    () => expect.fail('resolved'),
    (err: unknown) => err
  );
  expect(e).toBeInstanceOf(TimestampError);
  return e as TimestampError;
}

describe('tokenFromResponse', () => {
  let tsa: TestTsa;
  beforeAll(async () => {
    tsa = await startTestTsa();
  });
  afterAll(() => tsa?.close());

  it('returns the token of a granted reply: the ContentInfo bytes inside the TimeStampResp', async () => {
    const resp = await post(tsa, createTimestampRequest(imprint, nonce));
    const token = await tokenFromResponse(resp, { imprint, nonce });
    expect(token[0]).toBe(0x30);
    // the token is the response's last element, byte for byte
    expect(Buffer.from(resp).subarray(resp.length - token.length)).toEqual(Buffer.from(token));
    expect(token.length).toBeLessThan(resp.length);
    // without a nonce expectation it is accepted as well
    expect(await tokenFromResponse(resp, { imprint })).toEqual(token);
  });

  it('reports a refusal with the status, failInfo words and statusString', async () => {
    tsa.setFailing('rejection');
    try {
      const resp = await post(tsa, createTimestampRequest(imprint, nonce));
      const e = await failure(tokenFromResponse(resp, { imprint, nonce }));
      expect(e.code).toBe('TSA_REJECTED');
      expect(e.message).toContain('rejection');
      expect(e.message).toContain('timeNotAvailable');
      expect(e.message).toContain('the test TSA is set to refuse');
    } finally {
      tsa.setFailing(false);
    }
  });

  it("refuses a token over another imprint (the TSA's, same nonce)", async () => {
    tsa.setFailing('wrong-imprint');
    try {
      const resp = await post(tsa, createTimestampRequest(imprint, nonce));
      const e = await failure(tokenFromResponse(resp, { imprint, nonce }));
      expect(e.code).toBe('TSA_IMPRINT_MISMATCH');
      expect(e.message).toContain('a5'.repeat(32)); // 0x5a with every bit flipped by the test TSA
    } finally {
      tsa.setFailing(false);
    }
  });

  it('refuses a token whose nonce is not ours, and one without a nonce when we sent one', async () => {
    const resp = await post(tsa, createTimestampRequest(imprint, nonce));
    const other = nonce.slice();
    other[7] ^= 1;
    expect((await failure(tokenFromResponse(resp, { imprint, nonce: other }))).code).toBe('TSA_NONCE_MISMATCH');
    // leading zero bytes of our nonce are not part of the INTEGER: still the same nonce
    const small = Uint8Array.from([0, 0, 1, 2, 3, 4, 5, 6]);
    const resp2 = await post(tsa, createTimestampRequest(imprint, small));
    await expect(tokenFromResponse(resp2, { imprint, nonce: small })).resolves.toBeInstanceOf(Uint8Array);
    // a request without a nonce (openssl -no_nonce style): our request has a nonce, the reply must too
    const noNonceReq = Uint8Array.from([
      0x30,
      0x39,
      ...createTimestampRequest(imprint, nonce).subarray(2, 2 + 3 + 51),
      0x01,
      0x01,
      0xff
    ]);
    const resp3 = await post(tsa, noNonceReq);
    const e = await failure(tokenFromResponse(resp3, { imprint, nonce }));
    expect(e.code).toBe('TSA_NONCE_MISMATCH');
    expect(e.message).toMatch(/no nonce/);
  });

  it('refuses a token whose CMS signature does not verify with the certificate it carries', async () => {
    const resp = await post(tsa, createTimestampRequest(imprint, nonce));
    const bad = resp.slice();
    bad[bad.length - 3] ^= 0x01; // inside the signature value, the last element of the token
    const e = await failure(tokenFromResponse(bad, { imprint, nonce }));
    expect(e.code).toBe('TSA_RESPONSE_MALFORMED');
    expect(e.message).toMatch(/signature/);
  });

  it('refuses bytes that are not a TimeStampResp, and oversized ones, without crashing', async () => {
    for (const junk of [
      new Uint8Array(0),
      new Uint8Array([0x30]),
      new Uint8Array([0x30, 0x00]),
      crypto.getRandomValues(new Uint8Array(300)),
      new TextEncoder().encode('<html>busy</html>')
    ]) {
      expect((await failure(tokenFromResponse(junk, { imprint, nonce }))).code).toBe('TSA_RESPONSE_MALFORMED');
    }
    const resp = await post(tsa, createTimestampRequest(imprint, nonce));
    const trailing = new Uint8Array([...resp, 0x00]);
    expect((await failure(tokenFromResponse(trailing, { imprint, nonce }))).message).toMatch(/after its end/);
    expect((await failure(tokenFromResponse(new Uint8Array(64 * 1024 + 1), { imprint, nonce }))).message).toMatch(
      /more than 65536/
    );
    // granted but no token
    expect(
      (await failure(tokenFromResponse(Uint8Array.from([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00]), { imprint })))
        .message
    ).toMatch(/no token/);
  });
});

describe('failInfoWords', () => {
  it('names the PKIFailureInfo bits of RFC 3161', () => {
    expect(failInfoWords(Uint8Array.from([0xa0]), 5)).toEqual(['badAlg', 'badRequest']);
    expect(failInfoWords(Uint8Array.from([0x00, 0x02]), 1)).toEqual(['timeNotAvailable']);
    expect(failInfoWords(Uint8Array.from([0x00, 0x00, 0x00, 0x40]), 6)).toEqual(['systemFailure']);
    expect(failInfoWords(Uint8Array.from([0x40]), 0)).toEqual(['bit 1']);
  });
});
