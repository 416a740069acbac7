/**
 * The relay's time-stamp forwarder (src/relay/timestamp-forward.ts), a real relay on an ephemeral port in front of
 * a real RFC 3161 TSA (openssl, tests/helpers/tsa.ts):
 * - a request for an allowed TSA is forwarded and the token that comes back is one over our imprint, signed by
 *   that TSA (and verifies through the core client with `via`);
 * - a TSA not on the list is 403 and the TSA is never asked; a body that is not a TimeStampReq is 400 and nothing
 *   is forwarded; an oversize body is 413; the TSA's HTTP error is 502 naming the status;
 * - CORS: the preflight is answered, every answer allows any origin; GET lists the allowed TSAs;
 * - a per-address token bucket answers 429 once the burst is spent;
 * - nothing the relay logs carries the imprint; WebSocket rooms still work beside it;
 * - the ledger worker's time-stamping (engine/timestamps.ts, over memory storage): a TSA added in Settings
 *   time-stamps the checkpoints through the team relay; a failure is pending with its error and retried; offline
 *   nothing is asked until back online; a TSA the relay refuses is reported with the 403; removing it drops its
 *   pending request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { startRelay, type Relay } from '../../../src/relay/server.ts';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { randomRoomKey } from '../../../src/lib/core/sync/room.ts';
import { tsaAllowList } from '../../../src/relay/timestamp-forward.ts';
import { startTestTsa, type TestTsa } from '../../helpers/tsa.ts';
import { createTimestampRequest } from '../../../src/lib/core/timestamp/request.ts';
import { tokenFromResponse } from '../../../src/lib/core/timestamp/response.ts';
import { requestTimestamp } from '../../../src/lib/core/timestamp/client.ts';
import { parseToken, describeToken } from '../../../src/lib/core/timestamp/token.ts';
import { toBase64, toHex } from '../../../src/lib/core/bytes.ts';
import { LedgerHost, type DeviceIdentity } from '../../../src/lib/engine/host.ts';
import { TimestampService, type TimestampStatus } from '../../../src/lib/engine/timestamps.ts';
import { attachedDeviceLog } from '../../../src/lib/engine/bundle-requests.ts';
import type { GenerationInput } from '../../../src/lib/engine/protocol.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';

const imprintOf = (seed: number) => new Uint8Array(32).map((_, i) => (i * 7 + seed) & 0xff);
const nonce = () => crypto.getRandomValues(new Uint8Array(8));

let tsa: TestTsa;
let other: TestTsa;
let relay: Relay;
const logged: string[] = [];

const post = (tsaUrl: string, body: Uint8Array, r: Relay = relay) =>
  fetch(`${r.httpUrl}/timestamp?tsa=${encodeURIComponent(tsaUrl)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/timestamp-query' },
    body: body as Uint8Array<ArrayBuffer>
  });

beforeAll(async () => {
  [tsa, other] = await Promise.all([startTestTsa(), startTestTsa()]);
  relay = await startRelay({ port: 0, tsaAllow: [tsa.url], timestamp: { burst: 1000, log: (l) => logged.push(l) } });
});
afterAll(async () => {
  await relay?.close();
  await Promise.all([tsa?.close(), other?.close()]);
});

describe('relay: time-stamp forwarding', () => {
  it('forwards a request for an allowed TSA; the token over our imprint comes back, signed by that TSA', async () => {
    const imprint = imprintOf(1);
    const n = nonce();
    const before = tsa.requests;
    const res = await post(tsa.url, createTimestampRequest(imprint, n));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/timestamp-reply');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const reply = new Uint8Array(await res.arrayBuffer());
    expect(tsa.requests).toBe(before + 1);
    // Checks status, imprint, nonce and the CMS signature by the certificate it carries.
    const token = await tokenFromResponse(reply, { imprint, nonce: n });
    const parsed = parseToken(token);
    const info = describeToken(parsed, parsed.certificates[0]);
    expect(info.imprint).toBe(toHex(imprint));
    expect(info.tsa).toBe(tsa.tsaSubject);
    expect(relay.stats().timestamps).toBeGreaterThanOrEqual(1);
    // The relay's log names the TSA and the outcome, never the imprint.
    expect(logged.some((l) => l.includes(tsa.url))).toBe(true);
    for (const l of logged) {
      expect(l).not.toContain(toHex(imprint));
      expect(l).not.toContain(toBase64(imprint));
    }
  });

  it('the core client with `via` gets its token through the relay', async () => {
    const imprint = imprintOf(2);
    const token = await requestTimestamp(tsa.url, imprint, { via: relay.httpUrl });
    const parsed = parseToken(token);
    expect(describeToken(parsed, parsed.certificates[0]).imprint).toBe(toHex(imprint));
  });

  it('a TSA not on the list is 403 with a one-line reason, and that TSA is never asked', async () => {
    const before = other.requests;
    const res = await post(other.url, createTimestampRequest(imprintOf(3), nonce()));
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const text = await res.text();
    expect(text.trim()).toMatch(/does not forward to that TSA/);
    expect(text.trim().split('\n')).toHaveLength(1);
    // A look-alike of an allowed address is not it either.
    const alike = await post(`${tsa.url}/../other`, createTimestampRequest(imprintOf(3), nonce()));
    expect(alike.status).toBe(403);
    expect((await post(`${tsa.url}?x=1`, createTimestampRequest(imprintOf(3), nonce()))).status).toBe(403);
    expect(other.requests).toBe(before);
    // The request must name a TSA at all.
    const none = await fetch(`${relay.httpUrl}/timestamp`, {
      method: 'POST',
      body: createTimestampRequest(imprintOf(3), nonce()) as Uint8Array<ArrayBuffer>
    });
    expect(none.status).toBe(400);
  });

  it('a body that is not a TimeStampReq is 400 and nothing is forwarded', async () => {
    const before = tsa.requests;
    const bad = [
      new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'),
      new Uint8Array(0),
      // A TimeStampReq with a SHA-1 imprint (20 bytes): only SHA-256 leaves.
      Uint8Array.from([
        0x30,
        0x25,
        0x02,
        0x01,
        0x01,
        0x30,
        0x20,
        0x30,
        0x09,
        0x06,
        0x05,
        0x2b,
        0x0e,
        0x03,
        0x02,
        0x1a,
        0x05,
        0x00,
        0x04,
        0x13,
        ...new Uint8Array(19)
      ]),
      // A valid request with a trailing byte.
      Uint8Array.from([...createTimestampRequest(imprintOf(4), nonce()), 0])
    ];
    for (const body of bad) {
      const res = await post(tsa.url, body);
      expect(res.status, `body of ${body.length} bytes`).toBe(400);
      expect((await res.text()).trim()).toMatch(/^not a time-stamp request this relay forwards/);
    }
    expect(tsa.requests).toBe(before);
  });

  it('a body over 1 KiB is 413 and nothing is forwarded', async () => {
    const before = tsa.requests;
    const res = await post(tsa.url, new Uint8Array(2048).fill(0x30));
    expect(res.status).toBe(413);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(tsa.requests).toBe(before);
  });

  it('a TSA answering an HTTP error is 502 naming the status', async () => {
    tsa.setFailing('http-500');
    try {
      const res = await post(tsa.url, createTimestampRequest(imprintOf(5), nonce()));
      expect(res.status).toBe(502);
      expect((await res.text()).trim()).toBe('the TSA answered HTTP 500');
    } finally {
      tsa.setFailing(false);
    }
  });

  it('a TSA that does not answer in time is 504', async () => {
    const quick = await startRelay({ port: 0, tsaAllow: [tsa.url], timestamp: { timeoutMs: 300 } });
    tsa.setFailing('hang');
    try {
      const res = await post(tsa.url, createTimestampRequest(imprintOf(7), nonce()), quick);
      expect(res.status).toBe(504);
      expect((await res.text()).trim()).toMatch(/did not answer within/);
    } finally {
      tsa.setFailing(false);
      await quick.close();
    }
  });

  it('answers the CORS preflight, and GET lists the allowed TSAs', async () => {
    const pre = await fetch(`${relay.httpUrl}/timestamp?tsa=${encodeURIComponent(tsa.url)}`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type'
      }
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST, GET, OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toBe('Content-Type');

    const list = await fetch(`${relay.httpUrl}/timestamp`, { headers: { Origin: 'http://app.example' } });
    expect(list.status).toBe(200);
    expect(list.headers.get('access-control-allow-origin')).toBe('*');
    expect(await list.json()).toEqual({ tsas: [tsa.url] });
  });

  it('other plain HTTP is 426 as before, and rooms still forward frames', async () => {
    expect((await fetch(`${relay.httpUrl}/`)).status).toBe(426);
    const room = await randomRoomKey();
    const [a, b] = await Promise.all([connectRelay(relay.url, room), connectRelay(relay.url, room)]);
    const got = new Promise<Uint8Array>((r) => b.onFrame(r));
    a.send(Uint8Array.of(1, 2, 3));
    expect([...(await got)]).toEqual([1, 2, 3]);
    a.close();
    b.close();
  });

  it('an address over its rate gets 429 once the burst is spent', async () => {
    const limited = await startRelay({ port: 0, tsaAllow: [tsa.url], timestamp: { perMinute: 1, burst: 3 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        // Requests for a TSA not on the list: they count, and bother no TSA.
        const res = await post(other.url, createTimestampRequest(imprintOf(6), nonce()), limited);
        statuses.push(res.status);
        await res.arrayBuffer();
        if (res.status === 429) {
          expect(res.headers.get('retry-after')).toBe('60');
          expect(res.headers.get('access-control-allow-origin')).toBe('*');
          break;
        }
      }
      expect(statuses).toEqual([403, 403, 403, 429]);
    } finally {
      await limited.close();
    }
  });

  it('npm run relay takes the TSAs from --tsa and PL_RELAY_TSA, and refuses a bad one (exit 2)', async () => {
    const child = spawn(process.execPath, ['src/relay/server.ts', '--tsa', tsa.url], {
      env: { ...process.env, PORT: '0', PL_RELAY_TSA: 'https://tsa.example/tsr' },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += String(d);
          const m = /relay listening on ws:\/\/([^\s]+)/.exec(out);
          if (m && out.includes('time-stamp requests:')) resolve(`http://${m[1]}`);
        });
        child.once('exit', (code) => reject(new Error(`relay exited ${code}: ${out}`)));
      });
      expect(await (await fetch(`${url}/timestamp`)).json()).toEqual({ tsas: ['https://tsa.example/tsr', tsa.url] });
    } finally {
      child.kill('SIGTERM');
    }
    const bad = spawn(process.execPath, ['src/relay/server.ts', '--tsa', 'ftp://tsa.example'], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let err = '';
    bad.stderr.on('data', (d) => (err += String(d)));
    expect(await new Promise((r) => bad.once('exit', r))).toBe(2);
    expect(err).toMatch(/http/);
  });

  it('the allow list from PL_RELAY_TSA and --tsa: http(s) URLs, one form each', () => {
    expect(tsaAllowList('https://tsa.example/tsr  http://ts.example', ['https://tsa.example/tsr'])).toEqual([
      'https://tsa.example/tsr',
      'http://ts.example/'
    ]);
    expect(tsaAllowList(undefined)).toEqual([]);
    expect(() => tsaAllowList('ftp://tsa.example')).toThrow(/http/);
    expect(() => tsaAllowList('https://user:pw@tsa.example/')).toThrow(/credentials/);
  });
});

describe('the ledger worker time-stamps its checkpoints through the relay (engine/timestamps.ts)', () => {
  const file = (name: string, text: string) => new File([text], name);
  const generation = (name: string): GenerationInput => ({
    platform: 'Tripo',
    mode: 'text-to-3d',
    project: 'Trusted time',
    classification: 'client',
    trainingOptOut: true,
    privacyMode: false,
    outputs: [file(`${name}.glb`, `glTF ${name}`)],
    inputs: []
  });

  /** A device with a ledger, over memory storage, whose team relay is the test relay; short waits. */
  async function device() {
    const storage = new MemoryStorage();
    const k = await generateDeviceKey(false);
    const identity: DeviceIdentity = {
      memberName: 'Ada',
      publicKey: k.publicKey,
      signer: signerFromCryptoKey(k.privateKey, k.publicKey)
    };
    let made = false;
    const host = new LedgerHost({
      init: async () => {},
      openStorage: async () => storage,
      loadIdentity: async () => (made ? identity : undefined),
      ensureIdentity: async () => ((made = true), identity)
    });
    await host.create('Ada', 'Studio Nord');
    let online = true;
    const service = new TimestampService({
      host,
      teamRelay: async () => relay.url,
      deviceLog: (ledger) => attachedDeviceLog(host, ledger),
      online: () => online,
      delays: { change: 10, minGap: 0, open: 10, retryFirst: 100, retryMax: 100 }
    });
    service.follow();
    /** The status once no run is under way and `until` holds (a bounded wait: 600 looks). */
    const settle = async (until: (s: TimestampStatus) => boolean): Promise<TimestampStatus> => {
      let last: TimestampStatus | undefined;
      for (let i = 0; i < 600; i++) {
        last = await service.status();
        if (!last.running && until(last)) return last;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`the status never got there: ${JSON.stringify(last)}`);
    };
    return { host, service, storage, settle, setOnline: (v: boolean) => (online = v) };
  }

  const tokenAt = (s: TimestampStatus, size: number) => s.checkpoints.find((c) => c.size === size)?.tokens ?? [];

  it('a TSA added in Settings time-stamps the newest checkpoint, and each new one, through the team relay', async () => {
    const d = await device();
    let s = await d.service.status();
    expect(s).toMatchObject({ tsas: [], relay: relay.httpUrl, relayFromTeam: true, pending: [] });
    const before = tsa.requests;
    s = await d.service.handle({ type: 'timestamp-settings', addTsa: tsa.url });
    expect(s.tsas).toEqual([tsa.url]);
    s = await d.settle((x) => tokenAt(x, 1).length > 0);
    expect(tokenAt(s, 1)).toEqual([
      expect.objectContaining({
        tsa: tsa.url,
        via: `${relay.httpUrl}/`,
        ok: true,
        tsaName: tsa.tsaSubject,
        genTime: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/)
      })
    ]);
    expect(s.relayTsas).toEqual({ tsas: [tsa.url] });
    expect(s.pending).toEqual([]);
    expect(tsa.requests).toBe(before + 1);

    await d.host.recordGeneration(generation('one'));
    s = await d.settle((x) => tokenAt(x, 2).length > 0);
    expect(s.newest).toBe(2);
    expect(tokenAt(s, 2)[0]).toMatchObject({ ok: true, tsaName: tsa.tsaSubject });
    expect(tsa.requests).toBe(before + 2);
  });

  it('a failing TSA leaves the checkpoint pending with its error, and the retry obtains the token once it recovers', async () => {
    const d = await device();
    tsa.setFailing('http-500');
    try {
      await d.service.handle({ type: 'timestamp-settings', addTsa: tsa.url });
      const s = await d.settle((x) => x.pending.length > 0);
      expect(s.pending).toEqual([
        expect.objectContaining({ size: 1, tsas: [tsa.url], lastError: expect.stringContaining('HTTP 502') })
      ]);
      expect(s.lastRun?.results).toEqual([
        expect.objectContaining({ tsa: tsa.url, size: 1, ok: false, code: 'TSA_UNREACHABLE' })
      ]);
      expect(tokenAt(s, 1)).toEqual([]);
    } finally {
      tsa.setFailing(false);
    }
    const s = await d.settle((x) => x.pending.length === 0 && tokenAt(x, 1).length > 0);
    expect(tokenAt(s, 1)[0]).toMatchObject({ ok: true, tsa: tsa.url });
    expect(s.nextRetry).toBeNull();
  });

  it('offline, nothing is asked and the checkpoint is pending; back online, it is time-stamped', async () => {
    const d = await device();
    await d.service.handle({ type: 'timestamp-settings', addTsa: tsa.url });
    await d.settle((x) => tokenAt(x, 1).length > 0);
    d.setOnline(false);
    const before = tsa.requests;
    await d.host.recordGeneration(generation('offline'));
    const s = await d.settle((x) => x.pending.length > 0);
    expect(s.online).toBe(false);
    expect(s.pending).toEqual([expect.objectContaining({ size: 2, lastError: expect.stringContaining('offline') })]);
    await expect(d.service.handle({ type: 'timestamp-now' })).rejects.toMatchObject({ code: 'REMOTE_UNREACHABLE' });
    expect(tsa.requests).toBe(before);
    d.setOnline(true);
    d.service.wake();
    await d.settle((x) => x.pending.length === 0 && tokenAt(x, 2).length > 0);
    expect(tsa.requests).toBe(before + 1);
  });

  it('a TSA the relay does not forward to is reported with the relay’s 403; removing it drops its pending request, tokens stay', async () => {
    const d = await device();
    await d.service.handle({ type: 'timestamp-settings', addTsa: tsa.url });
    await d.settle((x) => tokenAt(x, 1).length > 0);
    const before = other.requests;
    await d.service.handle({ type: 'timestamp-settings', addTsa: other.url });
    let s = await d.settle((x) => x.pending.length > 0);
    expect(s.pending).toEqual([
      expect.objectContaining({ size: 1, tsas: [other.url], lastError: expect.stringContaining('403') })
    ]);
    expect(s.relayTsas).toEqual({ tsas: [tsa.url] });
    expect(other.requests).toBe(before);
    s = await d.service.handle({ type: 'timestamp-settings', removeTsa: other.url });
    expect(s.tsas).toEqual([tsa.url]);
    expect(s.pending).toEqual([]);
    expect(tokenAt(s, 1)).toHaveLength(1);
    // A relay set here replaces the team relay; bad input changes nothing.
    await expect(d.service.handle({ type: 'timestamp-settings', relay: 'ftp://relay.example' })).rejects.toMatchObject({
      code: 'BAD_INPUT'
    });
    await expect(
      d.service.handle({ type: 'timestamp-settings', addTsa: 'https://user:pw@tsa.example/' })
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
    s = await d.service.handle({ type: 'timestamp-settings', relay: 'wss://relay.example/' });
    expect(s).toMatchObject({ relay: 'https://relay.example', relayFromTeam: false });
    s = await d.service.handle({ type: 'timestamp-settings', relay: null });
    expect(s).toMatchObject({ relay: relay.httpUrl, relayFromTeam: true });
  });
});
