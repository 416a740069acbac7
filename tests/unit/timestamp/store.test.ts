/**
 * The time-stamp store (core/timestamp/store.ts) and time-stamping a device log (stamp.ts) against the real test
 * TSA (openssl ts -reply): the setting's validation, tokens and pending requests round trip, damaged files are
 * reported with their key and never written over, every token kept stamps its checkpoint's text, failures queue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromUtf8, toHex, utf8 } from '../../../src/lib/core/bytes.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { parseNote } from '../../../src/lib/core/merkle/note.ts';
import { checkpointImprint } from '../../../src/lib/core/timestamp/request.ts';
import { timestampCheckpoint } from '../../../src/lib/core/timestamp/stamp.ts';
import { TimestampStore, type TokenEntry } from '../../../src/lib/core/timestamp/store.ts';
import { verifyTimestampToken } from '../../../src/lib/core/timestamp/verify.ts';
import { startRelay } from '../../../src/relay/server.ts';
import { startTestTsa } from '../../helpers/tsa.ts';
import { generationBody, newLedger } from '../helpers/ledger.ts';

const TSA = 'https://tsa.example/tsr';
const entry = (over: Partial<TokenEntry> = {}): TokenEntry => ({
  token: 'MAMCAQE=',
  tsa: TSA,
  received: '2026-12-07T10:00:00.000Z',
  ...over
});
const code = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e) => (e as { code?: string }).code
  );

describe('TimestampStore', () => {
  it('keeps the TSA setting: http(s) URLs only, at most 8, each at most 2048 characters, duplicates once', async () => {
    const store = new TimestampStore(new MemoryStorage());
    expect(await store.tsas()).toEqual([]);
    expect(
      await store.setTsas([
        'http://timestamp.digicert.com',
        'http://timestamp.digicert.com/',
        'https://freetsa.org/tsr'
      ])
    ).toEqual(['http://timestamp.digicert.com/', 'https://freetsa.org/tsr']);
    const before = await store.storage.load(['settings', 'tsa']);
    expect(JSON.parse(fromUtf8(before!))).toEqual({
      tsas: ['http://timestamp.digicert.com/', 'https://freetsa.org/tsr']
    });
    for (const bad of [
      ['ftp://tsa.example/'],
      ['not a url'],
      ['https://tsa.example/#x'],
      ['https://user:pw@tsa.example/'],
      [`https://tsa.example/${'a'.repeat(2048)}`],
      Array.from({ length: 9 }, (_, i) => `https://tsa${i}.example/`)
    ]) {
      expect(await code(store.setTsas(bad))).toBe('BAD_INPUT');
    }
    expect(await store.storage.load(['settings', 'tsa'])).toEqual(before); // refused: nothing written
  });

  it('keeps one token per TSA and checkpoint size; lists the sizes that hold tokens', async () => {
    const store = new TimestampStore(new MemoryStorage());
    expect(await store.addToken(7, entry())).toBe(true);
    expect(await store.addToken(7, entry({ token: 'MAMCAQI=' }))).toBe(false); // the first one stays
    expect(await store.addToken(7, entry({ tsa: 'http://other.example/', via: 'https://relay.example/' }))).toBe(true);
    expect(await store.addToken(3, entry())).toBe(true);
    expect(await store.sizes()).toEqual([3, 7]);
    expect(await store.tokens(7)).toEqual([
      entry(),
      entry({ tsa: 'http://other.example/', via: 'https://relay.example/' })
    ]);
    expect(await store.tokens(5)).toEqual([]);
    expect(await store.storage.listKeys(['log', 'timestamps'])).toContainEqual([
      'log',
      'timestamps',
      '0000000000000007'
    ]);
    expect(await code(store.addToken(7, entry({ token: 'not base64!', tsa: 'http://third.example/' })))).toBe(
      'BAD_INPUT'
    );
    expect(await code(store.tokens(0))).toBe('BAD_INPUT');
  });

  it('queues failed requests per size and TSA, counting attempts, and drops them once answered', async () => {
    const store = new TimestampStore(new MemoryStorage());
    await store.markPending(5, TSA, 'TSA_UNREACHABLE: HTTP 503 from tsa.example', new Date('2026-12-07T10:00:00Z'));
    await store.markPending(
      5,
      'http://b.example',
      'TSA_UNREACHABLE: b.example is unreachable: ECONNREFUSED\u001b[31m',
      new Date('2026-12-07T10:01:00Z')
    );
    await store.markPending(9, TSA, 'x');
    expect(await store.pending()).toMatchObject([
      {
        size: 5,
        tsas: [TSA, 'http://b.example/'],
        attempts: 2,
        lastError: 'TSA_UNREACHABLE: b.example is unreachable: ECONNREFUSED [31m',
        lastTry: '2026-12-07T10:01:00.000Z'
      },
      { size: 9, tsas: [TSA], attempts: 1 }
    ]);
    await store.clearPending(5, TSA);
    expect((await store.pendingAt(5))!.tsas).toEqual(['http://b.example/']);
    await store.clearPending(5, 'http://b.example/');
    expect(await store.pendingAt(5)).toBeUndefined();
    expect(await store.pendingSizes()).toEqual([9]);
  });

  it('reports a damaged file with STORAGE_CORRUPT and its key, never writes over it, and lists every one', async () => {
    const storage = new MemoryStorage();
    const store = new TimestampStore(storage);
    const damaged: Array<[string[], string]> = [
      [
        ['log', 'timestamps', '0000000000000004'],
        '{"tokens": [{"token": "%%", "tsa": "https://a.example/", "received": "2026-12-07T10:00:00Z"}]}'
      ],
      [['log', 'timestamps', '0000000000000006'], 'not json'],
      [
        ['log', 'timestamps-pending', '0000000000000006'],
        '{"tsas": ["javascript:alert(1)"], "attempts": 1, "lastError": "", "lastTry": "2026-12-07T10:00:00Z"}'
      ],
      [['settings', 'tsa'], '{"tsas": "https://a.example/"}']
    ];
    for (const [k, v] of damaged) await storage.save(k, utf8(v));
    await storage.save(['log', 'timestamps', 'README'], utf8('?'));
    for (const p of [
      store.tokens(4),
      store.tokens(6),
      store.pendingAt(6),
      store.tsas(),
      store.addToken(6, entry()),
      store.markPending(6, TSA, 'e')
    ]) {
      const e = await p.then(
        () => undefined,
        (x) => x
      );
      expect(e).toMatchObject({ code: 'STORAGE_CORRUPT' });
      expect(e.message).toMatch(/^(log\/timestamps|log\/timestamps-pending|settings)\/?[0-9a-z]* is damaged/);
      expect(e.detail.key).toMatch(/^(log|settings)\//);
    }
    for (const [k, v] of damaged) expect(fromUtf8((await storage.load(k))!)).toBe(v); // left as they were
    const problems = await store.problems();
    expect(problems.map((p) => p.key).sort()).toEqual([
      'log/timestamps-pending/0000000000000006',
      'log/timestamps/0000000000000004',
      'log/timestamps/0000000000000006',
      'log/timestamps/README',
      'settings/tsa'
    ]);
    expect(problems.every((p) => p.code === 'STORAGE_CORRUPT')).toBe(true);
    expect(await store.sizes()).toEqual([4, 6]);
  });
});

describe('timestampCheckpoint against the test TSA', () => {
  let tsa: Awaited<ReturnType<typeof startTestTsa>>;
  beforeAll(async () => {
    tsa = await startTestTsa();
  });
  afterAll(() => tsa?.close());

  async function device() {
    const { ledger, storage, signer } = await newLedger();
    const log = await DeviceLog.attach(ledger, storage, { signer });
    await ledger.append('generation', generationBody());
    await log.settled();
    return { ledger, storage, signer, log, store: new TimestampStore(storage) };
  }

  it('keeps a token whose imprint is SHA-256 of the newest checkpoint text; a held token is not asked again', async () => {
    const { log, store } = await device();
    const size = (await log.checkpointSizes()).at(-1)!;
    const before = tsa.requests;
    const res = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
    expect(res).toMatchObject([{ tsa: new URL(tsa.url).href, size, ok: true, tsaName: tsa.tsaSubject }]);
    expect(Date.parse(res[0].genTime!)).toBeGreaterThan(Date.now() - 60_000);
    const [kept] = await store.tokens(size);
    const imprint = await checkpointImprint(parseNote((await log.checkpointNote(size))!).text);
    const v = await verifyTimestampToken(fromBase64(kept.token), imprint, [tsa.rootDer]);
    expect(v.status).toBe('trusted');
    expect(v.info?.imprint).toBe(toHex(imprint));
    expect(tsa.requests).toBe(before + 1);
    expect(await timestampCheckpoint({ log, store, tsas: [tsa.url] })).toMatchObject([{ ok: true, held: true }]);
    expect(tsa.requests).toBe(before + 1);
  });

  it('through a relay (via): the token is kept with the relay it came through', async () => {
    const { log, store } = await device();
    const relay = await startRelay({ port: 0, tsaAllow: [tsa.url] });
    try {
      expect(await timestampCheckpoint({ log, store, tsas: [tsa.url], via: relay.httpUrl })).toMatchObject([
        { ok: true }
      ]);
    } finally {
      await relay.close();
    }
    expect(await store.tokens(log.size)).toMatchObject([
      { tsa: new URL(tsa.url).href, via: new URL(relay.httpUrl).href }
    ]);
  });

  it('queues a failed request (reported, nothing kept) and obtains it at the next run', async () => {
    const { ledger, log, store } = await device();
    const first = (await log.checkpointSizes()).at(-1)!;
    tsa.setFailing('http-500');
    const failed = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
    tsa.setFailing(false);
    expect(failed).toMatchObject([{ size: first, ok: false, code: 'TSA_UNREACHABLE' }]);
    expect(failed[0].error).toContain(new URL(tsa.url).host);
    expect(await store.tokens(first)).toEqual([]);
    expect(await store.pending()).toMatchObject([{ size: first, tsas: [new URL(tsa.url).href], attempts: 1 }]);
    await ledger.append('generation', generationBody());
    await log.settled();
    const second = (await log.checkpointSizes()).at(-1)!;
    expect(second).toBeGreaterThan(first);
    const again = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
    expect(again.map((r) => [r.size, r.ok])).toEqual([
      [first, true],
      [second, true]
    ]);
    expect(await store.pending()).toEqual([]);
    expect(await store.sizes()).toEqual([first, second]);
  });

  it('an unreachable TSA is asked once per run; with no TSA and nothing pending nothing is asked', async () => {
    const { log, store } = await device();
    const calls: string[] = [];
    const refuse: typeof fetch = async (u) => {
      calls.push(String(u));
      throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    };
    await store.markPending(1, 'http://127.0.0.1:9/tsr', 'earlier');
    const res = await timestampCheckpoint({ log, store, tsas: ['http://127.0.0.1:9/tsr'], fetch: refuse });
    expect(res.map((r) => r.ok)).toEqual([false, false]);
    expect(res[1].error).toMatch(/127\.0\.0\.1:9 is unreachable: ECONNREFUSED/);
    expect(calls).toHaveLength(1);
    expect(await store.pendingSizes()).toEqual([1, (await log.checkpointSizes()).at(-1)]);
    const quiet = await device();
    expect(await timestampCheckpoint({ log: quiet.log, store: quiet.store, tsas: [], fetch: refuse })).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('refuses a token that stamps another text (TSA_IMPRINT_MISMATCH): nothing kept, the request queued', async () => {
    const { log, store } = await device();
    tsa.setFailing('wrong-imprint');
    const res = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
    tsa.setFailing(false);
    expect(res).toMatchObject([{ ok: false, code: 'TSA_IMPRINT_MISMATCH' }]);
    expect(await store.sizes()).toEqual([]);
    expect(await store.pendingSizes()).toHaveLength(1);
  });
});
