/**
 * Tamper campaign: flip bytes all over a stored ledger (document chunks and the device log), a cosigned
 * checkpoint and an evidence bundle, and re-verify. Every byte of the small ones, a large random sample of the big
 * ones. Every change must be detected and located; the test prints the detection rate, which must be 100%.
 * The Git journal has its campaign in tests/unit/journal/tamper.test.ts (verify, git fsck and pull).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { openCosignedCheckpoint, createCosignatureVerifier } from '../../../src/lib/core/merkle/cosignature.ts';
import { createEd25519Verifier } from '../../../src/lib/core/merkle/note.ts';
import { logVerifierKey, witnessVerifierKey } from '../../../src/lib/core/proofs/keys.ts';
import { utf8 } from '../../../src/lib/core/bytes.ts';
import { witnessedBundle, type BundleFixture } from './bundle-fixture.ts';
import { positions, report as reportCampaign, rng, tally } from '../helpers/tamper.ts';

let fx: BundleFixture;
beforeAll(async () => {
  fx = await witnessedBundle();
});

describe('tamper campaign', () => {
  it('stored ledger: document chunks and device log', async () => {
    const storage = fx.team.ada.storage;
    const ledger = fx.team.ada.ledger;
    const key = fx.team.ada.signer.publicKey;
    const chunks = [...(await storage.loadRange(['doc'])), ...(await storage.loadRange(['log']))];
    const rand = rng(1);
    const t = tally();
    for (const chunk of chunks) {
      const name = chunk.key.join('/');
      for (const pos of positions(chunk.data.length, chunk.key[0] === 'doc' ? 150 : 400, rand)) {
        const copy = new MemoryStorage();
        for (const c of chunks) await copy.save(c.key, c.data);
        const bad = chunk.data.slice();
        bad[pos] ^= 1 << Math.floor(rand() * 8);
        await copy.save(chunk.key, bad);
        t.flips++;
        const problems =
          chunk.key[0] === 'doc'
            ? (await Ledger.verifyStorage(copy, ledger.id)).problems
            : await DeviceLog.verifyStorage(copy, ledger, key);
        if (problems.length === 0) {
          t.misses.push(`${name} byte ${pos}`);
          continue;
        }
        t.detected++;
        if (
          problems.some(
            (p) =>
              (p.location ?? '').startsWith(name) ||
              (chunk.key[1] === 'leaves' && (p.location ?? '').startsWith('log/'))
          )
        )
          t.located++;
        else t.misses.push(`${name} byte ${pos}: not located (${problems.map((p) => p.location).join(', ')})`);
      }
    }
    reportCampaign('stored ledger', t);
    expect(t.misses).toEqual([]);
    expect(t.detected).toBe(t.flips);
  }, 120_000);

  it('cosigned checkpoint: every byte', async () => {
    const id = fx.team.ada.ledger.id;
    const logV = await createEd25519Verifier(await logVerifierKey(id, fx.team.ada.signer.publicKey));
    const graceV = await createCosignatureVerifier(await witnessVerifierKey(id, fx.team.grace.signer.publicKey));
    const original = utf8(fx.cosignedNote);
    const good = await openCosignedCheckpoint(original, logV, [graceV]);
    expect(good.cosignatures).toHaveLength(1);
    const t = tally();
    const lines = fx.cosignedNote.split('\n');
    const lineOf = (pos: number) => new TextDecoder().decode(original.slice(0, pos)).split('\n').length - 1;
    for (let pos = 0; pos < original.length; pos++) {
      for (const bit of [0, 5]) {
        const bad = original.slice();
        bad[pos] ^= 1 << bit;
        t.flips++;
        try {
          const r = await openCosignedCheckpoint(bad, logV, [graceV]);
          // Still opens: only possible if the flip hid a signature line, and then the cosignature is gone.
          if (r.cosignatures.length === 1 && r.note.text === good.note.text) {
            t.misses.push(`byte ${pos} bit ${bit}`);
            continue;
          }
        } catch {
          /* rejected */
        }
        t.detected++;
        if (lineOf(pos) < lines.length) t.located++;
      }
    }
    reportCampaign('checkpoint', t);
    expect(t.misses).toEqual([]);
  }, 120_000);

  it('evidence bundle: a large random sample of its bytes', async () => {
    const rand = rng(2);
    const t = tally();
    const bytes = fx.bytes;
    for (const pos of positions(bytes.length, 3000, rand)) {
      const bad = bytes.slice();
      bad[pos] ^= 1 << Math.floor(rand() * 8);
      t.flips++;
      const r = await verifyBundle(bad);
      // A flip inside the prover's report is not evidence: the bundle stays valid and the reader is told the
      // report is not the verifier's reading (a notice naming it). Anything else fails, with a location.
      if (r.ok && !r.notices.some((n) => n.includes("bundle's own report"))) {
        t.misses.push(`byte ${pos}`);
        continue;
      }
      t.detected++;
      if (r.failures.every((f) => f.location)) t.located++;
    }
    reportCampaign(`bundle (${bytes.length} bytes)`, t);
    expect(t.misses).toEqual([]);
    expect(t.located).toBe(t.flips);
  }, 300_000);
});
