/**
 * Bidirectional controls (src/lib/core/bidi.ts, ledger-schema/README.md section 9): writers refuse them in
 * every label of a new event, naming the field; free texts keep them; the schema (and so verification) does not
 * forbid them; the CLI shows them escaped in text and JSON.
 */
import { describe, expect, it } from 'vitest';
import { bidiProblems, escapeBidi } from '../../../src/lib/core/bidi.ts';
import { validateBody } from '../../../src/lib/core/validate.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { jsonSafe, terminalSafe } from '../../../src/cli/output.ts';
import { generationBody, newLedger, newSigner } from '../helpers/ledger.ts';

const ALL = [
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200e',
  '\u200f',
  '\u061c'
];

describe('escapeBidi', () => {
  it('shows each of the twelve as <U+XXXX> and leaves other text alone', () => {
    expect(escapeBidi(ALL.join(''))).toBe(
      '<U+202A><U+202B><U+202C><U+202D><U+202E><U+2066><U+2067><U+2068><U+2069><U+200E><U+200F><U+061C>'
    );
    expect(escapeBidi('robot\u202ebgl.exe')).toBe('robot<U+202E>bgl.exe');
    expect(escapeBidi('שלום עולם · مرحبا · ✓')).toBe('שלום עולם · مرحبا · ✓');
  });

  it('the terminal gets them escaped, and JSON output as \\u escapes of the same value', () => {
    expect(terminalSafe('a\u202eb\u001bc')).toBe('a<U+202E>b\ufffdc');
    const json = jsonSafe(JSON.stringify({ name: `x${ALL.join('')}y` }));
    expect(json).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(json).toContain('x\\u202a\\u202b');
    expect(JSON.parse(json)).toEqual({ name: `x${ALL.join('')}y` });
  });
});

describe('bidiProblems: the writer rule', () => {
  it('finds every label that holds one, located and named', () => {
    const body = generationBody({
      project: 'P\u202e',
      platform: { name: 'Tri\u2066po', url: 'https://example.com/\u202e' },
      outputs: [{ name: 'robot\u202ebgl.exe', format: 'other', size: 1, sha256: 'a'.repeat(64) }],
      asset: { title: 'T', tags: ['ok', 'x\u200f'] },
      settings: { trainingOptOut: true, privacyMode: true, extra: { 'seed.v': 'v\u061c' } }
    });
    const found = bidiProblems(body);
    expect(found.map((p) => p.path).sort()).toEqual(
      [
        '/body/asset/tags/1',
        '/body/outputs/0/name',
        '/body/platform/name',
        '/body/platform/url',
        '/body/project',
        '/body/settings/extra/seed.v'
      ].sort()
    );
    expect(found.find((p) => p.path === '/body/outputs/0/name')!.message).toMatch(
      /^body\.outputs\[0\]\.name holds U\+202E \(RIGHT-TO-LEFT OVERRIDE\)/
    );
    expect(found.find((p) => p.path === '/body/settings/extra/seed.v')!.message).toMatch(
      /^body\.settings\.extra\["seed\.v"\] holds U\+061C \(ARABIC LETTER MARK\)/
    );
  });

  it('leaves free texts alone: notes, reason, terms, a change summary, an excerpt', () => {
    expect(bidiProblems({ notes: 'a\u200fb', reason: '\u202e', terms: '\u2067x\u2069' })).toEqual([]);
    expect(
      bidiProblems({
        changes: { summary: '\u200e' },
        answers: { trainingOnInputs: { answer: 'no', excerpt: '\u200f' } }
      })
    ).toEqual([]);
    expect(bidiProblems({ recipient: { name: 'n', notes: '\u202e' } })).toHaveLength(1); // only the body's own notes
  });

  it('is not part of the schema: a body holding them is valid, so recorded events still verify', () => {
    expect(validateBody('generation', generationBody({ project: 'P\u202e' }))).toEqual([]);
  });
});

describe('Ledger refuses them when recording, and changes nothing', () => {
  it('append: SCHEMA_INVALID naming the field', async () => {
    const { ledger, storage } = await newLedger();
    const before = await storage.loadRange([]);
    await expect(ledger.append('generation', generationBody({ project: 'Brass\u202eRobots' }))).rejects.toMatchObject({
      code: 'SCHEMA_INVALID',
      message: expect.stringMatching(/body\.project holds U\+202E/)
    });
    expect(await storage.loadRange([])).toEqual(before);
    expect(
      (await ledger.append('generation', generationBody({ notes: 'RTL prose \u200f.' }))).event.body
    ).toMatchObject({ notes: 'RTL prose \u200f.' });
  });

  it('create: a member or ledger name holding one', async () => {
    const signer = await newSigner();
    const storage = new MemoryStorage();
    await expect(Ledger.create({ storage, signer, memberName: 'Ada\u2067', ledgerName: 'Studio' })).rejects.toThrow(
      /body\.member\.name holds U\+2067/
    );
    await expect(Ledger.create({ storage, signer, memberName: 'Ada', ledgerName: '\u202eoidutS' })).rejects.toThrow(
      /body\.ledgerName holds U\+202E/
    );
    expect(await Ledger.exists(storage)).toBe(false);
  });
});
