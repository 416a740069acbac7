import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalBytes, canonicalJson } from '../../../src/lib/core/canonical.ts';
import { toHex } from '../../../src/lib/core/bytes.ts';
import { VECTORS_DIR, vectorsPresent } from '../helpers/vectors.ts';

describe('RFC 8785 canonical JSON', () => {
  if (vectorsPresent) {
    const dir = join(VECTORS_DIR, 'jcs');
    for (const name of readdirSync(join(dir, 'input'))) {
      it(`matches the known answer for ${name}`, () => {
        const input = JSON.parse(readFileSync(join(dir, 'input', name), 'utf8'));
        const expected = readFileSync(join(dir, 'output', name), 'utf8');
        const hex = readFileSync(join(dir, 'outhex', name.replace(/\.json$/, '.txt')), 'utf8').replace(/\s+/g, '');
        expect(canonicalJson(input)).toBe(expected);
        expect(toHex(canonicalBytes(input))).toBe(hex.toLowerCase());
      });
    }
  } else {
    it(`shared vectors absent at ${VECTORS_DIR}: RFC 8785 known-answer tests not run`, () => {
      expect(vectorsPresent).toBe(false);
    });
  }

  it('sorts keys by UTF-16 code units and drops insignificant whitespace', () => {
    expect(canonicalJson({ b: 1, a: [true, 'x'], '\u20ac': 0, '\ud83d\ude00': 1 })).toBe(
      '{"a":[true,"x"],"b":1,"€":0,"😀":1}'
    );
  });

  it('rejects values with no JSON form', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson({ x: NaN })).toThrow(/NaN/);
    expect(() => canonicalJson('\ud800')).toThrow(/surrogate/i);
  });

  it('is idempotent: parsing the canonical form and canonicalizing again gives the same bytes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const once = canonicalJson(v);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      })
    );
  });
});
