/**
 * `verify` and `verify --full` through the real CLI (ledger-schema/README.md section 11, "What each mode proves"):
 * by default this device's events under its newest checkpoint are covered by that checkpoint's signature, and the
 * report says so; --full checks every signature; both find a changed event the same way.
 */
import { readFile, writeFile } from 'node:fs/promises';
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
});
