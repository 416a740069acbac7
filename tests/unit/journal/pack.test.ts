/** The journal's own pack writer and reader: stock git accepts its packs, and reading gives back every object. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { applyDelta, buildPack, makeDelta, readPack } from '../../../src/lib/adapters/git/pack.ts';
import type { GitObject } from '../../../src/lib/core/journal/objects.ts';

describe('packs', () => {
  it('deltas round-trip', () => {
    const a = new TextEncoder().encode('{"a":"' + 'x'.repeat(300) + '","b":"0123456789abcdef0123"}');
    const b = new TextEncoder().encode('{"a":"' + 'x'.repeat(290) + 'yy","b":"0123456789abcdef0124","c":1}');
    const d = makeDelta(a, b)!;
    expect(d.length).toBeLessThan(b.length);
    expect(applyDelta(a, d)).toEqual(b);
  });

  it('git verify-pack accepts a pack with deltas, and readPack reads back every object', async () => {
    const { ledger } = await newLedger();
    for (let i = 0; i < 20; i++) await ledger.append('generation', generationBody());
    const objects: GitObject[] = [];
    for (const ev of ledger.events()) {
      const c = (await ledger.journalCommit(ev.id))!;
      objects.push(c.commit, c.tree, c.blob);
    }
    const { sha, pack, idx } = await buildPack(objects, (b) => zlib.deflateSync(b));
    const tmp = mkdtempSync(path.join(tmpdir(), 'pack-'));
    try {
      writeFileSync(path.join(tmp, `pack-${sha}.pack`), pack);
      writeFileSync(path.join(tmp, `pack-${sha}.idx`), idx);
      const out = execFileSync('git', ['verify-pack', '-v', path.join(tmp, `pack-${sha}.idx`)], { encoding: 'utf8' });
      expect(out).toMatch(/chain length = 1: \d+ objects?/);
      const back = await readPack(pack, idx, (b) => zlib.inflateSync(b));
      expect(back.size).toBe(objects.length);
      for (const o of objects) {
        expect(back.get(o.oid)!.type).toBe(o.type);
        expect(new Uint8Array(back.get(o.oid)!.content)).toEqual(new Uint8Array(o.content));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
