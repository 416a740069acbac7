/**
 * `verify` and `verify --full` through the real CLI (ledger-schema/README.md section 11, "What each mode proves"):
 * by default this device's events under its newest checkpoint are covered by that checkpoint's signature, and the
 * report says so; --full checks every signature; both find a changed event the same way.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tempDir } from './helpers.ts';

let work: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir());
});
afterAll(() => cleanup());

describe('verify modes', () => {
  it('default: the checkpoint covers every event this device recorded; --full checks each; both clean', async () => {
    const L = path.join(work, 'modes');
    expect((await run(['init', '--ledger', L, '--name', 'Ada'])).code).toBe(0);
    for (const project of ['One', 'Two']) {
      const r = await run([
        'record',
        'checklist',
        '--ledger',
        L,
        '--project',
        project,
        '--classification',
        'public',
        '--classified'
      ]);
      expect(r.code, r.stderr).toBe(0);
    }
    const byHeads = await run(['verify', '--ledger', L, '--json']);
    expect(byHeads.code, byHeads.stderr).toBe(0);
    const j = byHeads.json();
    expect(j.ok).toBe(true);
    expect(j.signatures).toEqual({ mode: 'signed-heads', covered: j.checked, headSize: j.checked });
    const human = await run(['verify', '--ledger', L]);
    expect(human.stdout).toContain(
      `signatures: ${j.checked} of this device's events covered by its signed checkpoint of size ${j.checked}`
    );
    const full = await run(['verify', '--full', '--ledger', L, '--json']);
    expect(full.code, full.stderr).toBe(0);
    expect(full.json().signatures).toEqual({ mode: 'full', covered: 0 });
    expect((await run(['verify', '--full', '--ledger', L])).stdout).toContain(
      'signatures: every event and journal commit signature checked one by one (--full)'
    );
  });

  it('a changed checkpoint covers nothing: every signature is checked and verify names the checkpoint', async () => {
    const L = path.join(work, 'bad-checkpoint');
    expect((await run(['init', '--ledger', L, '--name', 'Ada'])).code).toBe(0);
    const r = await run([
      'record',
      'checklist',
      '--ledger',
      L,
      '--project',
      'One',
      '--classification',
      'public',
      '--classified'
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = path.join(L, 'log', 'checkpoints', `${'2'.padStart(16, '0')}+`);
    const note = await readFile(file, 'utf8');
    await writeFile(file, note.replace(/\n2\n/, '\n1\n'));
    const v = await run(['verify', '--ledger', L, '--json']);
    expect(v.code).toBe(1);
    const j = v.json();
    expect(j.signatures).toEqual({ mode: 'signed-heads', covered: 0 });
    expect(j.problems.map((p: { location: string }) => p.location)).toContain(
      `log/checkpoints/${'2'.padStart(16, '0')}`
    );
    expect(j.valid).toBe(2);
  });
  it("a sound verify writes this device's record; the next takes form, schema and ids from it and says so", async () => {
    const L = path.join(work, 'record');
    expect((await run(['init', '--ledger', L, '--name', 'Ada'])).code).toBe(0);
    const r = await run([
      'record',
      'checklist',
      '--ledger',
      L,
      '--project',
      'One',
      '--classification',
      'public',
      '--classified'
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = path.join(L, 'cache', 'verified+');
    await rm(file, { force: true });
    const full = await run(['verify', '--full', '--ledger', L, '--json']);
    expect(full.code, full.stderr).toBe(0);
    expect(full.json().eventChecks).toEqual({ mode: 'full' });
    expect(await readFile(file).catch(() => undefined)).toBeUndefined(); // --full neither reads nor writes it
    const cold = await run(['verify', '--ledger', L, '--json']);
    expect(cold.code, cold.stderr).toBe(0);
    expect(cold.json().eventChecks).toEqual({ mode: 'full' });
    const written = await readFile(file, 'utf8');
    const checked = JSON.parse(written.slice(65)).checked;
    const warm = await run(['verify', '--ledger', L, '--json']);
    expect(warm.code, warm.stderr).toBe(0);
    const j = warm.json();
    expect(j.eventChecks).toEqual({ mode: 'record', pinned: 2, headSize: 2, checked });
    expect({ ok: j.ok, checked: j.checked, valid: j.valid, problems: j.problems }).toEqual({
      ok: true,
      checked: 2,
      valid: 2,
      problems: []
    });
    expect(await readFile(file, 'utf8')).toBe(written);
    expect((await run(['verify', '--ledger', L])).stdout).toContain(
      `events: 2 under checkpoint 2: bytes pinned by its root; form, schema and ids checked in full by this device on ${checked} (record authenticated by its key); verify --full checks again`
    );
    // A damaged record is ignored (and, the ledger being sound, written again).
    await writeFile(
      file,
      written.replace(/^./, (c) => (c === '0' ? '1' : '0'))
    );
    const again = await run(['verify', '--ledger', L, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().eventChecks).toEqual({ mode: 'full' });
    expect(JSON.parse((await readFile(file, 'utf8')).slice(65)).checked).not.toBe(checked);
  });
});
