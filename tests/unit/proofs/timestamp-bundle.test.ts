/**
 * Evidence bundles with RFC 3161 time-stamps from a real TSA (stock `openssl ts -reply`, its own CA made at test
 * time): a time-stamped bundle is trusted with the TSA's root, merely untrusted with another (still valid, the
 * reason stated, no time claimed), invalid with a token over another checkpoint; an earlier time-stamped
 * checkpoint covers, through its consistency proof, exactly the events logged before it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeBundle, type Bundle } from '../../../src/lib/core/proofs/bundle.ts';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle, type BundleResult } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { describeFacts } from '../../../src/lib/core/proofs/report.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { TimestampStore } from '../../../src/lib/core/timestamp/store.ts';
import { timestampCheckpoint } from '../../../src/lib/core/timestamp/stamp.ts';
import { makeOtherRootPem, pemToDer, startTestTsa, type TestTsa } from '../../helpers/tsa.ts';
import { generationBody } from '../helpers/ledger.ts';
import { makeTeam, MODEL_SHA, type Team } from './helpers.ts';

let tsa: TestTsa;
let otherRoot: Uint8Array;
beforeAll(async () => {
  tsa = await startTestTsa();
  otherRoot = pemToDer(await makeOtherRootPem());
}, 60_000);
afterAll(() => tsa?.close());

const codes = (r: BundleResult) => r.failures.map((f) => `${f.code} ${f.location}`);
const SUBJECT = { sha256: MODEL_SHA, name: 'model.glb' };

/** Signs a checkpoint of Ada's log, has Grace cosign it and the test TSA time-stamp it. */
async function checkpointAndStamp(team: Team, store: TimestampStore): Promise<number> {
  const { ledger, log, signer } = team.ada;
  const note = await log.checkpoint(ledger.id, signer);
  const w = await witnessCheckpoint({
    ledgerId: ledger.id,
    memberKeys: ledger.roster().map((m) => m.key),
    note,
    proof: [],
    signer: team.grace.signer,
    now: () => Math.floor(Date.now() / 1000)
  });
  await log.addCosignatures(w.note);
  const results = await timestampCheckpoint({ log, store, tsas: [tsa.url] });
  expect(results.map((r) => r.ok)).toEqual([true]);
  return log.size;
}

describe('a time-stamped bundle', () => {
  let team: Team;
  let store: TimestampStore;
  let bytes: Uint8Array;
  beforeAll(async () => {
    team = await makeTeam();
    store = new TimestampStore(team.ada.storage);
    await checkpointAndStamp(team, store);
    ({ bytes } = await buildBundle({
      ledger: team.ada.ledger,
      log: team.ada.log,
      logPublicKey: team.ada.signer.publicKey,
      subject: SUBJECT,
      timestamps: store
    }));
  }, 60_000);

  it('carries the token over its checkpoint, and with the TSA\'s root proves "no later than" its time', async () => {
    const bundle: Bundle = JSON.parse(new TextDecoder().decode(bytes));
    expect(bundle.format).toBe('provenance-ledger/bundle/v2');
    expect(bundle.timestamps).toHaveLength(1);
    expect(bundle.timestamps![0].consistency).toEqual([]);
    const r = await verifyBundle(bytes, [], { tsaRoots: [tsa.rootDer] });
    expect(r.failures).toEqual([]);
    expect(r.facts!.timestamps.map((t) => t.verdict.status)).toEqual(['trusted']);
    const genTime = r.facts!.timestamps[0].verdict.info.genTime;
    expect(Math.abs(Date.parse(genTime) - Date.now())).toBeLessThan(10 * 60_000);
    const text = describeFacts(r.facts!).join('\n');
    const proven = text.slice(text.indexOf('Proven'), text.indexOf('Claimed, not proven'));
    expect(proven).toContain(
      `- Time: all ${bundle.events.length} events above existed no later than ${genTime} according to ${tsa.tsaSubject}`
    );
    expect(text).not.toContain('No trusted time-stamp covers these events');
  });

  it('with another root (or none) the bundle stays valid, the token is not trusted and no time is claimed', async () => {
    for (const roots of [[otherRoot], []]) {
      const r = await verifyBundle(bytes, [], { tsaRoots: roots });
      expect(r.failures).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.facts!.timestamps.map((t) => t.verdict.status)).toEqual(['untrusted']);
      expect(r.notices.join('\n')).toMatch(/is not trusted: .*Its time proves nothing/);
      const text = describeFacts(r.facts!).join('\n');
      expect(text).not.toContain('no later than');
      expect(text).toContain('No trusted time-stamp covers these events');
      expect(text).toMatch(/A time-stamp token from .* says .*, but it is not trusted/);
    }
  });

  it('a token over another checkpoint, a flipped token byte, a wrong root line: TIMESTAMP_INVALID', async () => {
    const base: Bundle = JSON.parse(new TextDecoder().decode(bytes));
    // A real token from the same TSA over a different checkpoint of the log (one more event).
    const other = await makeTeam();
    const otherStore = new TimestampStore(other.ada.storage);
    await checkpointAndStamp(other, otherStore);
    const foreign = (await otherStore.tokens(other.ada.log.size))[0].token;
    const swapped = structuredClone(base);
    swapped.timestamps![0].token = foreign;
    const r1 = await verifyBundle(serializeBundle(swapped), [], { tsaRoots: [tsa.rootDer] });
    expect(codes(r1)).toEqual(['TIMESTAMP_INVALID timestamps[0].token']);
    expect(r1.failures[0].message).toMatch(/TSA_IMPRINT_MISMATCH/);

    const flipped = structuredClone(base);
    const der = Buffer.from(flipped.timestamps![0].token, 'base64');
    der[der.length - 40] ^= 0x01; // inside the signature
    flipped.timestamps![0].token = der.toString('base64');
    expect(codes(await verifyBundle(serializeBundle(flipped), [], { tsaRoots: [tsa.rootDer] }))).toEqual([
      'TIMESTAMP_INVALID timestamps[0].token'
    ]);

    const wrongRoot = structuredClone(base);
    wrongRoot.timestamps![0].root = Buffer.alloc(32, 7).toString('base64');
    expect(codes(await verifyBundle(serializeBundle(wrongRoot), [], { tsaRoots: [tsa.rootDer] }))).toEqual([
      'TIMESTAMP_INVALID timestamps[0].consistency'
    ]);
  });
});

describe('an earlier time-stamped checkpoint', () => {
  it('covers, through its consistency proof, the events logged before it and no others', async () => {
    const team = await makeTeam();
    const store = new TimestampStore(team.ada.storage);
    const early = await checkpointAndStamp(team, store);
    // Later: a derivation of model.glb; the newest checkpoint is cosigned but has no token.
    const { ledger, log, signer } = team.ada;
    await ledger.append('derivation', {
      parents: [{ name: 'model.glb', format: 'glb', size: 4096, sha256: MODEL_SHA }],
      outputs: [{ name: 'model-retopo.glb', format: 'glb', size: 2048, sha256: 'b2'.repeat(32) }],
      tool: { name: 'Blender' },
      operation: 'retopology'
    });
    await ledger.append('generation', generationBody());
    await log.settled();
    const note = await log.checkpoint(ledger.id, signer);
    const w = await witnessCheckpoint({
      ledgerId: ledger.id,
      memberKeys: ledger.roster().map((m) => m.key),
      note,
      proof: [],
      signer: team.grace.signer,
      now: () => Math.floor(Date.now() / 1000)
    });
    await log.addCosignatures(w.note);
    const { bytes, bundle } = await buildBundle({
      ledger,
      log,
      logPublicKey: signer.publicKey,
      subject: SUBJECT,
      timestamps: store
    });
    expect(bundle.timestamps!.map((t) => t.size)).toEqual([early]);
    expect(bundle.timestamps![0].consistency.length).toBeGreaterThan(0);
    const r = await verifyBundle(bytes, [], { tsaRoots: [tsa.rootDer] });
    expect(r.failures).toEqual([]);
    const covered = bundle.events.filter((e) => e.leaf < early).length;
    expect(covered).toBe(bundle.events.length - 1); // all but the derivation
    const text = describeFacts(r.facts!).join('\n');
    expect(text).toMatch(
      new RegExp(
        `- Time: ${covered} of the ${bundle.events.length} events above \\([0-9a-f…, ]+\\) existed no later than`
      )
    );
    expect(text).toContain(`RFC 3161 time-stamp of the log's first ${early} entries`);
  }, 60_000);
});
