/** The journal's own pack writer and reader: stock git accepts its packs, and reading gives back every object. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { applyDelta, buildPack, makeDelta, PackError, readPack } from '../../../src/lib/adapters/git/pack.ts';
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

  describe('applyDelta refuses hostile deltas, naming what is wrong', () => {
    const base = new TextEncoder().encode('0123456789abcdef');
    const d = (...bytes: number[]) => new Uint8Array(bytes);

    it('applies a well-formed delta of a copy and an insert', () => {
      // base size 16, result size 6: copy 4 bytes at offset 2, insert "xy".
      expect(new TextDecoder().decode(applyDelta(base, d(16, 6, 0x91, 2, 4, 2, 0x78, 0x79)))).toBe('2345xy');
    });

    it.each([
      ['an empty delta', d(), /truncated delta \(base size\)/],
      ['a delta that ends inside its result size', d(16, 0x80), /truncated delta \(result size\)/],
      [
        'a size varint longer than 7 bytes',
        d(16, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1),
        /result size too long/
      ],
      ['the wrong base size', d(15, 1, 1, 0x41), /base size mismatch/],
      ['a copy whose offset bytes are missing', d(16, 4, 0x8f), /truncated delta \(copy offset\)/],
      ['a copy whose size bytes are missing', d(16, 4, 0x91, 0), /truncated delta \(copy size\)/],
      ['a copy past the end of the base', d(16, 4, 0x91, 14, 4), /reads past the 16-byte base/],
      ['a copy at an offset of 4 GiB - 1', d(16, 4, 0x9f, 0xff, 0xff, 0xff, 0xff, 4), /reads past the 16-byte base/],
      ['a copy past the result size', d(16, 2, 0x91, 0, 4), /copy past the result size/],
      ['an insert longer than the delta', d(16, 4, 4, 0x41), /truncated delta \(insert\)/],
      ['an insert past the result size', d(16, 1, 2, 0x41, 0x42), /insert past the result size/],
      ['opcode 0', d(16, 1, 0), /opcode 0/],
      ['a result shorter than it claims', d(16, 3, 1, 0x41), /result size mismatch/],
      // 2^42 bytes claimed by 3 bytes of instructions: refused before anything is allocated.
      [
        'a result size no instruction could fill',
        d(16, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1, 0x80, 0x80, 0x80),
        /cannot make/
      ]
    ])('%s', (_name, delta, message) => {
      expect(() => applyDelta(base, delta)).toThrow(PackError);
      expect(() => applyDelta(base, delta)).toThrow(
        expect.objectContaining({ code: 'DELTA_INVALID', message: expect.stringMatching(message) })
      );
    });
  });
});
