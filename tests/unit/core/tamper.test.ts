import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import type { StorageChunk } from '../../../src/lib/core/storage.ts';
import { generationBody, newLedger } from '../helpers/ledger.ts';

async function smallLedger(compact: boolean) {
  const { ledger, storage, signer } = await newLedger();
  await ledger.append('generation', generationBody());
  await ledger.append('export', {
    files: [{ name: 'a.glb', format: 'glb', size: 10, sha256: 'ab'.repeat(32) }],
    destination: { label: 'SSD', kind: 'encrypted-drive', encrypted: true }
  });
  if (compact) await ledger.compact();
  return { ledger, storage, signer };
}

/** A copy of `chunks` with one byte of chunk `ci` changed; optionally renamed to its new hash (a careful forger). */
async function withFlip(chunks: StorageChunk[], ci: number, offset: number, rename: boolean) {
  await initHash();
  const s = new MemoryStorage();
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (i !== ci) {
      await s.save(c.key, c.data);
      continue;
    }
    const data = c.data.slice();
    data[offset] ^= 0x01;
    await s.save(rename ? [c.key[0], c.key[1], sha256HexSync(data)] : c.key, data);
  }
  return s;
}

describe('tamper detection', () => {
  it('detects and locates a changed byte at every offset of every stored chunk', async () => {
    const { storage, ledger } = await smallLedger(false);
    const chunks = await storage.loadRange(['doc']);
    let flips = 0;
    for (let ci = 0; ci < chunks.length; ci++) {
      for (let off = 0; off < chunks[ci].data.length; off++) {
        const s = await withFlip(chunks, ci, off, false);
        const report = await Ledger.verifyStorage(s);
        expect(report.ok).toBe(false);
        expect(report.problems[0]).toMatchObject({ code: 'STORAGE_CORRUPT', location: chunks[ci].key.join('/') });
        flips++;
      }
    }
    expect(flips).toBeGreaterThan(500);
    // And opening for normal use refuses, naming the chunk.
    const s = await withFlip(chunks, 0, 3, false);
    await expect(Ledger.open({ storage: s })).rejects.toThrow(chunks[0].key.join('/'));
    expect(ledger.size).toBe(3);
  }, 240_000);

  it('detects a change even when the forger renames the chunk to its new hash', async () => {
    const { storage } = await smallLedger(true);
    const chunks = await storage.loadRange(['doc']);
    expect(chunks).toHaveLength(1);
    const n = chunks[0].data.length;
    for (let off = 0; off < n; off++) {
      const s = await withFlip(chunks, 0, off, true);
      const report = await Ledger.verifyStorage(s);
      expect(report.ok, `flip at offset ${off} went undetected`).toBe(false);
      expect(report.problems[0].location ?? report.problems[0].eventId).toBeTruthy();
    }
  }, 240_000);

  it('reports the event whose content no longer matches its id and signature', async () => {
    const { storage, ledger } = await smallLedger(false);
    const target = ledger.events()[1];
    // Rewrite the stored document so that one event's JSON is changed (a forger with write access).
    const A = await import('@automerge/automerge');
    const s = new MemoryStorage();
    const forged = JSON.parse(JSON.stringify({ event: target.event, sig: target.sig }));
    forged.event.body.project = 'Someone Else';
    const { canonicalJson } = await import('../../../src/lib/core/canonical.ts');
    let doc = A.clone(ledger.doc);
    doc = A.change(doc, (d: any) => {
      // The record holding the event: "<id> <envelope>" then its journal signature line; the envelope is replaced.
      const i = d.records.findIndex((r: any) => r.val.startsWith(target.id + ' '));
      const lines = d.records[i].val.split('\n');
      lines[0] = `${target.id} ${canonicalJson(forged)}`;
      d.records[i] = new A.ImmutableString(lines.join('\n'));
    });
    await initHash();
    const bytes = A.save(doc);
    await s.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
    const report = await (await Ledger.open({ storage: s, allowProblems: true })).verify();
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.code, p.eventId])).toEqual(
      expect.arrayContaining([
        ['ID_MISMATCH', target.id],
        ['SIGNATURE_INVALID', target.id]
      ])
    );
    expect(storage).toBeDefined();
  });
});

describe('round trips (property)', () => {
  const bodyArb = fc.record({
    project: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0),
    name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,30}$/),
    classification: fc.constantFrom('public', 'personal', 'confidential', 'client'),
    size: fc.nat({ max: 1e9 }),
    seed: fc.uint8Array({ minLength: 32, maxLength: 32 })
  });

  it('append, save, load and verify agree for any sequence of events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(bodyArb, { minLength: 1, maxLength: 12 }), fc.boolean(), async (bodies, compact) => {
        const { ledger, storage, signer } = await newLedger();
        await initHash();
        for (const b of bodies) {
          const sha = sha256HexSync(b.seed);
          await ledger.append(
            'generation',
            generationBody({
              project: b.project,
              classification: b.classification,
              outputs: [{ name: `${b.name.trim() || 'x'}.glb`, format: 'glb', size: b.size, sha256: sha }]
            })
          );
        }
        if (compact) await ledger.compact();
        // Each stored envelope is exactly the RFC 8785 form of {event, sig} (signEvent builds it around the
        // event's canonical bytes).
        const { canonicalJson } = await import('../../../src/lib/core/canonical.ts');
        for (const e of ledger.events())
          expect(ledger.envelopeJson(e.id)).toBe(canonicalJson({ event: e.event, sig: e.sig }));
        const again = await Ledger.open({ storage, signer });
        expect(again.events()).toEqual(ledger.events());
        expect(again.heads()).toEqual(ledger.heads());
        const report = await again.verify();
        expect(report.problems).toEqual([]);
        expect(report.valid).toBe(bodies.length + 1);
      }),
      { numRuns: 25 }
    );
  });

  it('any single-byte change to any stored chunk is detected (property)', async () => {
    const { storage } = await smallLedger(true);
    const chunks = await storage.loadRange(['doc']);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: chunks[0].data.length - 1 }), fc.integer({ min: 1, max: 255 }), async (off, x) => {
        const s = new MemoryStorage();
        const data = chunks[0].data.slice();
        data[off] ^= x;
        await s.save(chunks[0].key, data);
        const report = await Ledger.verifyStorage(s);
        expect(report.ok).toBe(false);
        expect(report.problems[0].location).toBe(chunks[0].key.join('/'));
      }),
      { numRuns: 100 }
    );
  });

  it('the event bytes sliced from a canonical envelope are exactly the canonical event', async () => {
    const { parseEnvelope } = await import('../../../src/lib/core/event.ts');
    const { canonicalJson, canonicalBytes } = await import('../../../src/lib/core/canonical.ts');
    const { utf8 } = await import('../../../src/lib/core/bytes.ts');
    await fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), (event, sig) => {
        const bytes = utf8(canonicalJson({ event, sig }));
        const { eventBytes, problem } = parseEnvelope(bytes);
        expect(problem).toBeUndefined();
        expect(eventBytes).toEqual(canonicalBytes(event));
      })
    );
  });
});
