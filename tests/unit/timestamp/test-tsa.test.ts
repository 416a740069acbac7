/**
 * The test TSA itself (tests/helpers/tsa.ts), which many tests rely on: it answers like a TSA, fails on demand
 * the ways a network TSA does, bounds what it reads, counts requests and leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createTimestampRequest } from '../../../src/lib/core/timestamp/request.ts';
import { tokenFromResponse } from '../../../src/lib/core/timestamp/response.ts';
import { startTestTsa } from '../../helpers/tsa.ts';

const imprint = new Uint8Array(32).fill(3);
const nonce = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const query = createTimestampRequest(imprint, nonce);
const post = (url: string, body: Uint8Array, signal?: AbortSignal) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: body as Uint8Array<ArrayBuffer>,
    signal
  });

describe('startTestTsa', () => {
  it('answers, fails on demand, recovers, counts, and cleans up on close', async () => {
    const tsa = await startTestTsa();
    try {
      expect(tsa.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tsa$/);
      expect(existsSync(tsa.dir)).toBe(true);
      const ok = await post(tsa.url, query);
      expect(ok.status).toBe(200);
      await tokenFromResponse(new Uint8Array(await ok.arrayBuffer()), { imprint, nonce });

      tsa.setFailing('http-500');
      expect((await post(tsa.url, query)).status).toBe(500);

      tsa.setFailing('hang');
      await expect(post(tsa.url, query, AbortSignal.timeout(300))).rejects.toThrow(/abort|timeout/i);

      tsa.setFailing(false);
      const again = await post(tsa.url, query);
      expect(again.status).toBe(200);
      await tokenFromResponse(new Uint8Array(await again.arrayBuffer()), { imprint, nonce });

      expect((await fetch(tsa.url)).status).toBe(405);
      await expect(post(tsa.url, new Uint8Array(64 * 1024 + 1)).then((r) => r.status)).resolves.toBe(413);
      // a query openssl cannot read: openssl's own refusal, as a TSA answers
      const junk = await post(tsa.url, new Uint8Array([1, 2, 3]));
      expect(junk.status).toBe(200);
      await expect(tokenFromResponse(new Uint8Array(await junk.arrayBuffer()), { imprint })).rejects.toMatchObject({
        code: 'TSA_REJECTED',
        message: expect.stringContaining('badDataFormat')
      });

      expect(tsa.requests).toBe(6); // the GET is not a request
    } finally {
      await tsa.close();
    }
    expect(existsSync(tsa.dir)).toBe(false);
    await expect(post(tsa.url, query)).rejects.toThrow();
    await tsa.close(); // twice is fine
  });

  it('cuts a hanging request on close', async () => {
    const tsa = await startTestTsa();
    tsa.setFailing('hang');
    const pending = post(tsa.url, query).then(
      () => 'answered',
      () => 'cut'
    );
    while (tsa.requests === 0) await new Promise((r) => setTimeout(r, 10));
    await tsa.close();
    expect(await pending).toBe('cut');
    expect(existsSync(tsa.dir)).toBe(false);
  });

  it('serves many concurrent requests with distinct serial numbers', async () => {
    const tsa = await startTestTsa();
    try {
      const bodies = await Promise.all(
        Array.from({ length: 8 }, async () => new Uint8Array(await (await post(tsa.url, query)).arrayBuffer()))
      );
      const { tokenInfo } = await import('../../../src/lib/core/timestamp/verify.ts');
      const serials = await Promise.all(
        bodies.map(async (b) => tokenInfo(await tokenFromResponse(b, { imprint, nonce })).serial)
      );
      expect(new Set(serials).size).toBe(8);
    } finally {
      await tsa.close();
    }
  });
});
