/**
 * Bad bundles: each is rejected with a failure that names it, never a crash. Then fuzzing with fast-check:
 * arbitrary bytes, arbitrary JSON, and random mutations of a valid bundle never throw and never verify.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { serializeBundle, MAX_BUNDLE_BYTES, type Bundle } from '../../../src/lib/core/proofs/bundle.ts';
import { verifyBundle, type BundleResult } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { logVerifierKey } from '../../../src/lib/core/proofs/keys.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { generationBody, newSigner } from '../helpers/ledger.ts';
import { witnessedBundle, type BundleFixture } from './bundle-fixture.ts';

let fx: BundleFixture;
let base: Bundle;
beforeAll(async () => {
  fx = await witnessedBundle();
  base = JSON.parse(new TextDecoder().decode(fx.bytes));
});

const mutate = async (fn: (b: Bundle) => void | Promise<void>): Promise<BundleResult> => {
  const b = structuredClone(base);
  await fn(b);
  return verifyBundle(serializeBundle(b));
};
const codes = (r: BundleResult) => r.failures.map((f) => `${f.code} ${f.location}`);

describe('bad bundles are rejected by name', () => {
  it('accepts the untouched bundle', async () => {
    expect((await verifyBundle(fx.bytes)).failures).toEqual([]);
  });

  it('truncated', async () => {
    const r = await verifyBundle(fx.bytes.slice(0, fx.bytes.length - 10));
    expect(codes(r)).toEqual(['BUNDLE_MALFORMED bundle']);
    expect(r.failures[0].message).toMatch(/not JSON \(truncated\?\)/);
  });

  it('oversized', async () => {
    const r = await verifyBundle(new Uint8Array(MAX_BUNDLE_BYTES + 1));
    expect(codes(r)).toEqual(['BUNDLE_TOO_LARGE bundle']);
  });

  it('not canonical (re-indented)', async () => {
    const r = await verifyBundle(new TextEncoder().encode(JSON.stringify(base, null, 2)));
    expect(r.failures[0].message).toMatch(/not the canonical/);
  });

  it('an extra proof hash, a missing one, reordered ones', async () => {
    const k = base.events.findIndex((e) => e.proof.length >= 2);
    const extra = await mutate((b) => void b.events[k].proof.push(b.events[k].proof[0]));
    expect(codes(extra)).toContain(`INCLUSION_PROOF_INVALID events[${k}].proof`);
    expect(extra.failures[0].message).toMatch(/PROOF_WRONG_LENGTH/);
    const missing = await mutate((b) => void b.events[k].proof.pop());
    expect(codes(missing)).toContain(`INCLUSION_PROOF_INVALID events[${k}].proof`);
    const swapped = await mutate((b) => void b.events[k].proof.reverse());
    expect(codes(swapped)).toEqual([`INCLUSION_PROOF_INVALID events[${k}].proof`]);
    expect(swapped.failures[0].message).toMatch(/INCLUSION_PROOF_INVALID/);
    const leaf = await mutate((b) => void (b.events[k].leaf = b.events[k].leaf ^ 1));
    expect(codes(leaf).some((c) => c.startsWith('INCLUSION_PROOF_INVALID') || c.startsWith('LEAF_REUSED'))).toBe(true);
  });

  it('a checkpoint from an unknown key', async () => {
    const stranger = await newSigner();
    const log = await DeviceLog.load(new MemoryStorage());
    await log.append(fx.team.ada.ledger.events());
    const note = await log.checkpoint(base.ledger, stranger);
    const asLog = await mutate(async (b) => {
      b.checkpoint = note;
      b.logKey = await logVerifierKey(b.ledger, stranger.publicKey);
    });
    expect(codes(asLog)).toEqual(['LOG_KEY_UNKNOWN logKey']);
    expect(asLog.failures[0].message).toMatch(/not the key of a member/);
    const swapped = await mutate((b) => void (b.checkpoint = note));
    expect(codes(swapped)).toEqual(['CHECKPOINT_INVALID checkpoint']);
    expect(swapped.failures[0].message).toMatch(/NOTE_UNVERIFIED/);
  });

  it('a cosignature over a different checkpoint', async () => {
    const t = fx.team;
    // Grace cosigns a later checkpoint; her signature line is pasted onto the bundle's checkpoint.
    const copy = await DeviceLog.load(new MemoryStorage());
    await copy.append([...t.ada.ledger.events(), await t.grace.ledger.append('generation', generationBody())]);
    const later = await copy.checkpoint(base.ledger, t.ada.signer);
    const w = await witnessCheckpoint({
      ledgerId: base.ledger,
      memberKeys: t.grace.ledger.roster().map((m) => m.key),
      note: later,
      proof: [],
      signer: t.grace.signer
    });
    const graceLine = w.note.split('\n').find((l) => l.includes('provenance-ledger-witness/'))!;
    const r = await mutate((b) => {
      const lines = b.checkpoint.split('\n');
      const i = lines.findIndex((l) => l.includes('provenance-ledger-witness/'));
      lines[i] = graceLine;
      b.checkpoint = lines.join('\n');
    });
    expect(codes(r)).toEqual(['CHECKPOINT_INVALID checkpoint']);
    expect(r.failures[0].message).toMatch(/NOTE_SIGNATURE_INVALID.*provenance-ledger-witness/);
  });

  it('an opening that does not match', async () => {
    const r = await mutate((b) => void (b.openings[0].prompt += ' '));
    expect(codes(r)).toEqual(['OPENING_MISMATCH openings[0]']);
    const salt = await mutate((b) => void (b.openings[0].salt = 'A'.repeat(43)));
    expect(codes(salt)).toEqual(['OPENING_MISMATCH openings[0]']);
  });

  it('a file that the bundle does not name (the bundle stays valid), a subject it does not hold, an edited report (not evidence: a notice)', async () => {
    const f = await verifyBundle(fx.bytes, [{ name: 'other.glb', sha256: 'ff'.repeat(32) }]);
    expect(codes(f)).toEqual(['FILE_NOT_IN_BUNDLE other.glb']);
    expect(f.ok).toBe(false);
    expect(f.bundleOk).toBe(true);
    expect(f.failures[0].message).toMatch(/other\.glb .* is not a file this bundle names/);
    expect(codes(await mutate((b) => void (b.subject = { sha256: 'ee'.repeat(32) })))).toEqual([
      'SUBJECT_MISSING subject.sha256'
    ]);
    const edited = await mutate((b) => void (b.report = b.report.replace('Ada', 'Eve')));
    expect(codes(edited)).toEqual([]);
    expect(edited.ok).toBe(true);
    expect(edited.notices.join('\n')).toMatch(/bundle's own report is not this verifier's reading/);
    expect((await verifyBundle(fx.bytes)).notices).toEqual([]);
  });

  it('an event removed (the membership chain broken) or duplicated', async () => {
    const grace = base.events.findIndex((e) => e.envelope.includes('"action":"add"'));
    const r = await mutate((b) => void b.events.splice(grace, 1));
    expect(codes(r).some((c) => c.startsWith('WITNESS_KEY_UNKNOWN'))).toBe(true); // Grace is no member without it
    const d = await mutate((b) => void b.events.push(b.events[1]));
    expect(codes(d)).toContain(`DUPLICATE_EVENT events[${base.events.length}]`);
  });
});

describe('fuzzing verify-bundle', () => {
  it('arbitrary bytes never crash and never verify', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        const r = await verifyBundle(bytes);
        expect(r.ok).toBe(false);
        expect(r.failures.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 }
    );
  });

  it('arbitrary JSON, and bundles with fields replaced by arbitrary JSON, never crash and never verify silently', async () => {
    const keys = Object.keys(base) as Array<keyof Bundle>;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 }), async (key, value) => {
        const b = structuredClone(base) as unknown as Record<string, unknown>;
        b[key] = value;
        const r = await verifyBundle(new TextEncoder().encode(JSON.stringify(b)));
        // The same bundle again (e.g. an empty `timestamps` list) verifies; any other verifies only with a notice
        // (an edited report is not evidence, and the reader is told it is not the verifier's reading).
        if (JSON.stringify(b) !== JSON.stringify(base)) expect(r.ok && r.notices.length === 0).toBe(false);
        const r2 = await verifyBundle(new TextEncoder().encode(JSON.stringify(value)));
        expect(r2.ok).toBe(false);
      }),
      { numRuns: 300 }
    );
  });

  it('random byte edits of a valid bundle never crash and never verify silently', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: fx.bytes.length - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4
        }),
        async (edits) => {
          const b = fx.bytes.slice();
          for (const [i, x] of edits) b[i] ^= x;
          const r = await verifyBundle(b);
          expect(r.ok && r.notices.length === 0).toBe(false);
        }
      ),
      { numRuns: 300 }
    );
  });
});
