/**
 * requestTimestamp (core/timestamp/client.ts): the HTTP exchange with a TSA. Against the real test TSA (openssl
 * ts -reply) and against fetch stand-ins for what a network does wrong: HTTP errors, refusals, silence, a body
 * that does not end. Each failure is one line with a stable code.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTimestampRequest } from '../../../src/lib/core/timestamp/request.ts';
import { requestTimestamp, timestampEndpoint } from '../../../src/lib/core/timestamp/client.ts';
import { verifyTimestampToken } from '../../../src/lib/core/timestamp/verify.ts';
import { toHex } from '../../../src/lib/core/bytes.ts';
import { startRelay } from '../../../src/relay/server.ts';
import { startTestTsa } from '../../helpers/tsa.ts';

const imprint = new Uint8Array(32).fill(0xab);
/** A port on 127.0.0.1 nothing listens on (just released). */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
const fail = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('resolved'),
    (e) => e as { code: string; message: string }
  );

describe('requestTimestamp', () => {
  let tsa: Awaited<ReturnType<typeof startTestTsa>>;
  beforeAll(async () => {
    tsa = await startTestTsa();
  });
  afterAll(() => tsa?.close());

  it('posts a timestamp-query with a fresh nonce and returns a token over the imprint', async () => {
    const seen: Array<{ url: string; init: RequestInit }> = [];
    const spy: typeof fetch = (u, init) => {
      seen.push({ url: String(u), init: init! });
      return fetch(u, init);
    };
    const token = await requestTimestamp(tsa.url, imprint, { fetch: spy });
    const token2 = await requestTimestamp(tsa.url, imprint, { fetch: spy });
    expect(seen[0].url).toBe(new URL(tsa.url).href);
    expect(seen[0].init).toMatchObject({
      method: 'POST',
      headers: { 'Content-Type': 'application/timestamp-query', Accept: 'application/timestamp-reply' }
    });
    const [a, b] = seen.map((s) => parseTimestampRequest(s.init.body as Uint8Array));
    expect(a.imprint).toEqual(imprint);
    expect(toHex(a.nonce!)).not.toBe(toHex(b.nonce!));
    const v = await verifyTimestampToken(token, imprint, [tsa.rootDer]);
    expect(v).toMatchObject({ status: 'trusted', info: { imprint: toHex(imprint), tsa: tsa.tsaSubject } });
    expect(token2).not.toEqual(token);
  });

  it('goes through a relay with via: POST <via>/timestamp?tsa=<encoded TSA URL>', async () => {
    expect(timestampEndpoint('http://timestamp.digicert.com', 'https://relay.example/base/').href).toBe(
      'https://relay.example/base/timestamp?tsa=http%3A%2F%2Ftimestamp.digicert.com%2F'
    );
    let asked = '';
    const relay: typeof fetch = (u, init) => {
      asked = String(u);
      return fetch(decodeURIComponent(new URL(String(u)).searchParams.get('tsa')!), init);
    };
    await requestTimestamp(tsa.url, imprint, { fetch: relay, via: 'http://127.0.0.1:1' });
    expect(asked).toBe(`http://127.0.0.1:1/timestamp?tsa=${encodeURIComponent(new URL(tsa.url).href)}`);
  });

  it('through the real relay: a token from an allowed TSA; a TSA the relay does not allow is its HTTP 403, named', async () => {
    const relay = await startRelay({ port: 0, tsaAllow: [tsa.url] });
    try {
      const token = await requestTimestamp(tsa.url, imprint, { via: relay.httpUrl });
      expect(await verifyTimestampToken(token, imprint, [tsa.rootDer])).toMatchObject({ status: 'trusted' });
      const e = await fail(requestTimestamp('http://tsa.example/tsr', imprint, { via: relay.httpUrl }));
      // The relay's one-line reason comes along.
      expect(e).toMatchObject({
        code: 'TSA_UNREACHABLE',
        message: expect.stringMatching(
          new RegExp(
            `^HTTP 403 .*from relay ${new URL(relay.httpUrl).host} \\(for tsa\\.example\\): this relay does not forward to that TSA`
          )
        )
      });
    } finally {
      await relay.close();
    }
  });

  it('HTTP errors, refused connections and silence are TSA_UNREACHABLE, one line naming the status and host', async () => {
    const status: typeof fetch = async () =>
      new Response('<html>\nbusy</html>', {
        status: 503,
        statusText: 'Service Unavailable',
        headers: { 'Content-Type': 'text/html' }
      });
    expect(await fail(requestTimestamp('http://tsa.example/tsr', imprint, { fetch: status }))).toMatchObject({
      code: 'TSA_UNREACHABLE',
      message: 'HTTP 503 Service Unavailable from tsa.example'
    });
    const port = await closedPort();
    const e = await fail(requestTimestamp(`http://127.0.0.1:${port}/tsr`, imprint));
    expect(e).toMatchObject({ code: 'TSA_UNREACHABLE', message: `127.0.0.1:${port} is unreachable: ECONNREFUSED` });
    const silent: typeof fetch = (_u, init) =>
      new Promise((_r, reject) =>
        init!.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))
      );
    expect(
      await fail(requestTimestamp('https://tsa.example/', imprint, { fetch: silent, timeoutMs: 200 }))
    ).toMatchObject({
      code: 'TSA_UNREACHABLE',
      message: 'tsa.example did not answer within 0.2 s'
    });
    const viaRelay = await fail(
      requestTimestamp('http://tsa.example/tsr', imprint, { fetch: status, via: 'http://relay.example:8787' })
    );
    expect(viaRelay.message).toBe('HTTP 503 Service Unavailable from relay relay.example:8787 (for tsa.example)');
    // A relay's text/plain reason is shown on the same line, without control characters.
    const says: typeof fetch = async () =>
      new Response('the TSA answered HTTP 500\u001b[2J\nsecond line', {
        status: 502,
        statusText: 'Bad Gateway',
        headers: { 'Content-Type': 'text/plain; charset=utf-8' }
      });
    const reasoned = await fail(
      requestTimestamp('http://tsa.example/tsr', imprint, { fetch: says, via: 'http://relay.example:8787' })
    );
    expect(reasoned.message).toBe(
      'HTTP 502 Bad Gateway from relay relay.example:8787 (for tsa.example): the TSA answered HTTP 500[2J'
    );
  });

  it('reads at most 64 KiB of an answer, and refuses a body that does not end (TSA_RESPONSE_MALFORMED)', async () => {
    let pulled = 0;
    const endless: typeof fetch = async () =>
      new Response(
        new ReadableStream({
          pull(c) {
            pulled += 16384;
            c.enqueue(new Uint8Array(16384));
          }
        }),
        { status: 200 }
      );
    expect(await fail(requestTimestamp('http://tsa.example/', imprint, { fetch: endless }))).toMatchObject({
      code: 'TSA_RESPONSE_MALFORMED'
    });
    expect(pulled).toBeLessThan(160 * 1024);
    const declared: typeof fetch = async () =>
      new Response(new Uint8Array(10), { status: 200, headers: { 'content-length': String(1 << 20) } });
    expect(await fail(requestTimestamp('http://tsa.example/', imprint, { fetch: declared }))).toMatchObject({
      code: 'TSA_RESPONSE_MALFORMED'
    });
    const html: typeof fetch = async () => new Response('<html>hello</html>', { status: 200 });
    expect(await fail(requestTimestamp('http://tsa.example/', imprint, { fetch: html }))).toMatchObject({
      code: 'TSA_RESPONSE_MALFORMED'
    });
  });

  it('refuses a URL that is not http(s) before sending anything (BAD_INPUT)', async () => {
    let called = false;
    const never: typeof fetch = async () => {
      called = true;
      return new Response();
    };
    for (const u of ['file:///etc/passwd', 'tsa.example', ''])
      expect(await fail(requestTimestamp(u, imprint, { fetch: never }))).toMatchObject({ code: 'BAD_INPUT' });
    expect(
      await fail(requestTimestamp('http://tsa.example', imprint, { fetch: never, via: 'ws://relay' }))
    ).toMatchObject({ code: 'BAD_INPUT' });
    expect(called).toBe(false);
  });
});
