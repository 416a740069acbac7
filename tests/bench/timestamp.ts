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
 *   verify_bundle_with_tsa_ms  verifyBundle of an evidence bundle carrying one token, with the TSA's root (every
 *                         step of ledger-schema section 17). Median of 10.
 *   openssl_ts_verify_ms  the anchor: `openssl ts -verify` of the same token alone (a process start included).
 *
 * The difference is what this code adds to what any RFC 3161 TSA built on openssl costs anyway.
 */
import '@automerge/automerge';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { buildBundle } from '../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../src/lib/core/proofs/bundle-verify.ts';
import { formatCheckpoint, parseCheckpoint } from '../../src/lib/core/merkle/checkpoint.ts';
import { parseNote } from '../../src/lib/core/merkle/note.ts';
import { checkpointImprint } from '../../src/lib/core/timestamp/request.ts';
import { openssl, startTestTsa } from '../helpers/tsa.ts';

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
      await ledger.append('checklist', {
        project: `P${r + 1}`,
        classification: 'public',
        policySnapshots: [],
        items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
      });
      await log.settled();
      const t0 = performance.now();
      const res = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
      const t1 = performance.now();
      if (res.length !== 1 || !res[0].ok || (await store.tokens(log.size)).length !== 1)
        throw new Error(`no token stored: ${JSON.stringify(res)}`);
      const query = createTimestampRequest(
        globalThis.crypto.getRandomValues(new Uint8Array(32)),
        globalThis.crypto.getRandomValues(new Uint8Array(8))
      );
      const t2 = performance.now();
      await tsa.reply(query);
      const t3 = performance.now();
      if (r >= 0) {
        stamp.push(t1 - t0);
        reply.push(t3 - t2);
      }
    }
    say(
      `  timestamp: checkpoint to stored token ${stamp.map((x) => x.toFixed(1)).join(', ')} ms; openssl ts -reply ${reply.map((x) => x.toFixed(1)).join(', ')} ms`
    );

    // A bundle about the ledger's first event, carrying the token over the earliest time-stamped checkpoint and the
    // consistency proof to the newest: verified whole with the TSA's root, beside stock `openssl ts -verify` of the
    // same token alone.
    const { bytes, bundle } = await buildBundle({
      ledger,
      log,
      logPublicKey: signer.publicKey,
      subject: { event: ledger.id },
      allowUnwitnessed: true,
      timestamps: store
    });
    if (bundle.timestamps?.length !== 1) throw new Error('the bundle carries no time-stamp token');
    const tokenFile = path.join(dir, 'token.der');
    const rootFile = path.join(dir, 'root.pem');
    await writeFile(tokenFile, Buffer.from(bundle.timestamps[0].token, 'base64'));
    await writeFile(rootFile, tsa.rootPem);
    const cp = parseCheckpoint(parseNote(bundle.checkpoint).text);
    const stamped = {
      origin: cp.origin,
      size: bundle.timestamps[0].size,
      rootHash: Buffer.from(bundle.timestamps[0].root, 'base64'),
      extensions: []
    };
    const imprint = Buffer.from(await checkpointImprint(formatCheckpoint(stamped))).toString('hex');
    const verifyTimes: number[] = [];
    const opensslTimes: number[] = [];
    for (let r = -1; r < runs; r++) {
      const t0 = performance.now();
      const v = await verifyBundle(bytes, [], { tsaRoots: [tsa.rootDer] });
      const t1 = performance.now();
      if (!v.ok || v.facts?.timestamps[0]?.verdict.status !== 'trusted')
        throw new Error(`the bundle does not verify as time-stamped: ${JSON.stringify(v.failures)}`);
      await openssl(['ts', '-verify', '-digest', imprint, '-in', tokenFile, '-token_in', '-CAfile', rootFile]);
      const t2 = performance.now();
      if (r >= 0) {
        verifyTimes.push(t1 - t0);
        opensslTimes.push(t2 - t1);
      }
    }
    say(
      `  verify-bundle with a token: ${verifyTimes.map((x) => x.toFixed(1)).join(', ')} ms; openssl ts -verify: ${opensslTimes.map((x) => x.toFixed(1)).join(', ')} ms`
    );
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      timestamp_ms: round(median(stamp)),
      openssl_ts_reply_ms: round(median(reply)),
      verify_bundle_with_tsa_ms: round(median(verifyTimes)),
      openssl_ts_verify_ms: round(median(opensslTimes))
    };
  } finally {
    await tsa.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(JSON.stringify(await bench()) + '\n');
  process.exit(0);
}
