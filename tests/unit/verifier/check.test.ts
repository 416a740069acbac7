/**
 * The bundle check shared by the Verify page and the offline verifier (src/verifier/check.ts), on the worked
 * example of ledger-schema/README.md section 17: the bundle's own verdict and the files' are kept apart, so a valid
 * bundle with a file it does not name stays valid (and only then), and every failure keeps its code.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkBundle, readRoots, RootsError } from '../../../src/verifier/check.ts';

const dir = new URL('../../../ledger-schema/examples/bundle/', import.meta.url);
const bundleText = readFileSync(new URL('bundle.json', dir), 'utf8');
const model = new Uint8Array(readFileSync(new URL('model.glb', dir)));
const report = readFileSync(new URL('report.txt', dir), 'utf8').split('\n').filter(Boolean);
const modelHash = createHash('sha256').update(model).digest('hex');

const file = (bytes: BlobPart, name: string) => new File([bytes], name);
const stranger = file('not the model', 'other.glb');
const strangerHash = createHash('sha256').update('not the model').digest('hex');

describe('checkBundle', () => {
  it('a valid bundle with its file: valid, the statements, the file named', async () => {
    const r = await checkBundle({ bundle: file(bundleText, 'bundle.json'), files: [file(model, 'model.glb')] });
    expect(r).toMatchObject({
      bundleName: 'bundle.json',
      bundleOk: true,
      ok: true,
      failures: [],
      fileFailures: [],
      codes: []
    });
    for (const line of report) expect(r.statements).toContain(line);
    expect(r.statements).toContainEqual(
      expect.stringMatching(new RegExp(`model\\.glb hashes to sha256 ${modelHash}, (the|a) file the bundle names\\.$`))
    );
    expect(r.files).toEqual([{ name: 'model.glb', size: model.length, sha256: modelHash, named: true }]);
  });

  it('a valid bundle with a file it does not name: the bundle valid, the file reported apart with its code', async () => {
    const r = await checkBundle({
      bundle: file(bundleText, 'bundle.json'),
      files: [file(model, 'model.glb'), stranger]
    });
    expect(r.bundleOk).toBe(true);
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual([]);
    expect(r.fileFailures).toEqual([expect.objectContaining({ code: 'FILE_NOT_IN_BUNDLE', location: 'other.glb' })]);
    expect(r.codes).toEqual(['FILE_NOT_IN_BUNDLE']);
    for (const line of report) expect(r.statements).toContain(line);
    expect(r.statements.join('\n')).not.toContain(strangerHash);
    expect(r.files.map((f) => [f.name, f.sha256, f.named])).toEqual([
      ['model.glb', modelHash, true],
      ['other.glb', strangerHash, false]
    ]);
  });

  it('a file it does not name does not hide what is wrong with the bundle', async () => {
    const b = JSON.parse(bundleText);
    b.events[0].leaf = b.events[1].leaf;
    const r = await checkBundle({ bundle: file(JSON.stringify(b), 'edited.json'), files: [stranger] });
    expect(r.bundleOk).toBe(false);
    expect(r.failures.length).toBeGreaterThan(0);
    expect(r.failures.map((f) => f.code)).not.toContain('FILE_NOT_IN_BUNDLE');
    expect(r.fileFailures.map((f) => f.code)).toEqual(['FILE_NOT_IN_BUNDLE']);
    expect(r.codes).toEqual([...r.failures.map((f) => f.code), 'FILE_NOT_IN_BUNDLE']);
    expect(r.statements).toEqual([]);
  });

  it('a ledger id other than the one expected: invalid (LEDGER_UNEXPECTED); the right one: valid', async () => {
    const ledger = JSON.parse(bundleText).ledger as string;
    const other = await checkBundle({ bundle: file(bundleText, 'bundle.json'), expectLedger: 'ab'.repeat(32) });
    expect(other.bundleOk).toBe(false);
    expect(other.codes).toContain('LEDGER_UNEXPECTED');
    const same = await checkBundle({ bundle: file(bundleText, 'bundle.json'), expectLedger: ledger.toUpperCase() });
    expect(same.bundleOk).toBe(true);
  });

  it('a tampered inclusion proof: invalid, by code and location, no statements', async () => {
    const b = JSON.parse(bundleText);
    const i = b.events.findIndex((e: { proof: string[] }) => e.proof.length > 0);
    b.events[i].proof[0] = (b.events[i].proof[0][0] === 'A' ? 'B' : 'A') + b.events[i].proof[0].slice(1);
    const r = await checkBundle({
      bundle: file(JSON.stringify(b), 'tampered.json'),
      files: [file(model, 'model.glb')]
    });
    expect(r.bundleOk).toBe(false);
    expect(r.failures[0]).toMatchObject({ code: 'INCLUSION_PROOF_INVALID', location: `events[${i}].proof` });
    expect(r.statements).toEqual([]);
  });

  it('not a bundle: BUNDLE_MALFORMED, never a throw', async () => {
    const r = await checkBundle({ bundle: file('{"format":', 'x.json') });
    expect(r.bundleOk).toBe(false);
    expect(r.codes[0]).toBe('BUNDLE_MALFORMED');
  });
});

describe('readRoots', () => {
  it('refuses a file that is neither PEM nor DER, naming it', async () => {
    await expect(readRoots([file('hello', 'roots.txt')])).rejects.toThrow(RootsError);
    await expect(readRoots([file('hello', 'roots.txt')])).rejects.toThrow('roots.txt');
  });
  it('takes a DER certificate as it is', async () => {
    const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    expect(await readRoots([file(der, 'root.cer')])).toEqual([der]);
  });
});
