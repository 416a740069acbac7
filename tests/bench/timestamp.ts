/**
 * Benchmark hook for RFC 3161 time-stamps of checkpoints. tests/bench/bench.ts runs it in a fresh process
 * (`npm run bench -- --only timestamp`); run alone, `node tests/bench/timestamp.ts` prints the figures as JSON.
 *
 *   timestamp_ms          checkpoint to stored token: timestampCheckpoint over a device log on disk (FsStorage)
 *                         against the local test TSA (tests/helpers/tsa.ts: openssl ts -reply behind HTTP): read
 *                         the newest checkpoint, hash its text, POST the request, check the answer and the token
 *                         (nonce, imprint, CMS signature, EKU), write the token. Median of 10, each over a new
 *                         checkpoint (one event appended before each run, outside the timing).
 *   openssl_ts_reply_ms   the anchor, same run: that TSA's `openssl ts -reply` on a fresh request, run directly
 *                         (no HTTP, no checks). Median of 10, in round robin with the runs above.
 *
 * The difference is what this code adds to what any RFC 3161 TSA built on openssl costs anyway.
 */
import '@automerge/automerge';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FsStorage } from '../../src/lib/adapters/storage/fs.ts';
import { Ledger } from '../../src/lib/core/ledger.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../src/lib/core/keys.ts';
import { DeviceLog } from '../../src/lib/core/proofs/log.ts';
import { createTimestampRequest } from '../../src/lib/core/timestamp/request.ts';
import { timestampCheckpoint } from '../../src/lib/core/timestamp/stamp.ts';
import { TimestampStore } from '../../src/lib/core/timestamp/store.ts';
import { startTestTsa } from '../helpers/tsa.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function bench(ctx: { runs?: number; tmpDir?: string; log?: (m: string) => void } = {}) {
  const runs = ctx.runs ?? 10;
  const say = ctx.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const dir = await mkdtemp(path.join(ctx.tmpDir ?? tmpdir(), 'timestamp-'));
  const tsa = await startTestTsa();
  try {
    const storage = await FsStorage.open(dir);
    const key = await generateDeviceKey(false);
    const signer = signerFromCryptoKey(key.privateKey, key.publicKey);
    const ledger = await Ledger.create({ storage, signer, memberName: 'Ada', ledgerName: 'Bench' });
    const log = await DeviceLog.attach(ledger, storage, { signer });
    const store = new TimestampStore(storage);
    const stamp: number[] = [];
    const reply: number[] = [];
    // One untimed round first: openssl's and pkijs's first use, the HTTP connection.
    for (let r = -1; r < runs; r++) {
      await ledger.append('checklist', { project: `P${r + 1}`, classification: 'public', policySnapshots: [], items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true } });
      await log.settled();
      const t0 = performance.now();
      const res = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
      const t1 = performance.now();
      if (res.length !== 1 || !res[0].ok || (await store.tokens(log.size)).length !== 1) throw new Error(`no token stored: ${JSON.stringify(res)}`);
      const query = createTimestampRequest(globalThis.crypto.getRandomValues(new Uint8Array(32)), globalThis.crypto.getRandomValues(new Uint8Array(8)));
      const t2 = performance.now();
      await tsa.reply(query);
      const t3 = performance.now();
      if (r >= 0) {
        stamp.push(t1 - t0);
        reply.push(t3 - t2);
      }
    }
    say(`  timestamp: checkpoint to stored token ${stamp.map((x) => x.toFixed(1)).join(', ')} ms; openssl ts -reply ${reply.map((x) => x.toFixed(1)).join(', ')} ms`);
    const round = (x: number) => Math.round(x * 10) / 10;
    return { timestamp_ms: round(median(stamp)), openssl_ts_reply_ms: round(median(reply)) };
  } finally {
    await tsa.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(JSON.stringify(await bench()) + '\n');
  process.exit(0);
}
