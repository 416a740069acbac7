/**
 * backup / restore: the complete backup through the real CLI. Restored into a new directory: every event, the
 * policy text, the prompt (reveal) and the key, and verify is clean; restored again: nothing to do; a later backup of
 * the same ledger: only the new event and prompt are added; a wrong
 * passphrase, a damaged file and a directory holding another ledger are refused with the directory unchanged.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashTree, run, tempDir } from './helpers.ts';

const PASS = { PROVENANCE_LEDGER_PASSPHRASE: 'correct horse battery staple' };
let work: string;
let cleanup: () => Promise<void>;
let L: string;
let backupFile: string;
let genId: string;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir());
  L = path.join(work, 'ledger');
  expect((await run(['init', '--ledger', L, '--name', 'Ada', '--ledger-name', 'Brass Robot Studio'])).code).toBe(0);
  await writeFile(path.join(work, 'policy.txt'), 'Tripo privacy policy\n\nWe retain files for 30 days.\n');
  await writeFile(path.join(work, 'robot.glb'), Buffer.from('glTF robot bytes'));
  const p = await run([
    'record',
    'policy',
    '--ledger',
    L,
    '--platform',
    'Tripo',
    '--kind',
    'privacy-policy',
    '--text-file',
    path.join(work, 'policy.txt'),
    '--json'
  ]);
  expect(p.code, p.stderr).toBe(0);
  const g = await run([
    'record',
    'generation',
    '--ledger',
    L,
    '--platform',
    'Tripo',
    '--mode',
    'text-to-3d',
    '--prompt',
    'a small brass robot',
    '--output',
    path.join(work, 'robot.glb'),
    '--project',
    'Robot',
    '--classification',
    'client',
    '--json'
  ]);
  expect(g.code, g.stderr).toBe(0);
  genId = g.json().event.id;
  backupFile = path.join(work, 'studio.backup.json');
  const b = await run(['backup', '--ledger', L, '--out', backupFile, '--json'], { env: PASS });
  expect(b.code, b.stderr).toBe(0);
  expect(b.json()).toMatchObject({ events: 3, texts: 1, prompts: 1 });
});

afterAll(() => cleanup());

describe('backup / restore', () => {
  it('restores everything into a new directory; verify is clean; the prompt is revealed; again: nothing to do', async () => {
    const R = path.join(work, 'restored');
    const r = await run(['restore', backupFile, '--ledger', R, '--json'], { env: PASS });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ events: 3, already: 0, texts: 1, prompts: 1, keyRestored: true });
    const v = await run(['verify', '--ledger', R, '--json']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const rev = await run(['reveal', genId, '--ledger', R, '--json']);
    expect(rev.code, rev.stderr).toBe(0);
    expect(rev.stdout).toContain('a small brass robot');
    const again = await run(['restore', backupFile, '--ledger', R], { env: PASS });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing to do');

    // The same ledger, one generation further: only what is missing is added, the directory's key kept.
    await writeFile(path.join(work, 'robot2.glb'), Buffer.from('glTF second robot'));
    const g2 = await run([
      'record',
      'generation',
      '--ledger',
      L,
      '--platform',
      'Tripo',
      '--mode',
      'text-to-3d',
      '--prompt',
      'a taller brass robot',
      '--output',
      path.join(work, 'robot2.glb'),
      '--project',
      'Robot',
      '--classification',
      'client',
      '--json'
    ]);
    expect(g2.code, g2.stderr).toBe(0);
    const later = path.join(work, 'later.backup.json');
    expect((await run(['backup', '--ledger', L, '--out', later], { env: PASS })).code).toBe(0);
    const merged = await run(['restore', later, '--ledger', R, '--json'], { env: PASS });
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.json()).toMatchObject({ events: 1, already: 3, texts: 0, prompts: 1, keyRestored: false });
    expect((await run(['verify', '--ledger', R])).code).toBe(0);
    const rev2 = await run(['reveal', g2.json().event.id, '--ledger', R]);
    expect(rev2.stdout).toContain('a taller brass robot');
  });

  it('refuses a wrong passphrase, a damaged file and another ledger, changing nothing', async () => {
    const O = path.join(work, 'other');
    expect((await run(['init', '--ledger', O, '--name', 'Grace', '--ledger-name', 'Other Studio'])).code).toBe(0);
    const before = await hashTree(O);
    const wrong = await run(['restore', backupFile, '--ledger', O, '--json'], {
      env: { PROVENANCE_LEDGER_PASSPHRASE: 'wrong horse battery' }
    });
    expect(wrong.code).toBe(2);
    expect(wrong.errorJson().error.code).toBe('BAD_PASSPHRASE');
    const text = await readFile(backupFile, 'utf8');
    const b = JSON.parse(text);
    const i = Math.floor(b.ciphertext.length / 2);
    const damaged = path.join(work, 'damaged.json');
    await writeFile(
      damaged,
      JSON.stringify({
        ...b,
        ciphertext: b.ciphertext.slice(0, i) + (b.ciphertext[i] === 'A' ? 'B' : 'A') + b.ciphertext.slice(i + 1)
      })
    );
    const bad = await run(['restore', damaged, '--ledger', O, '--json'], { env: PASS });
    expect(bad.code).toBe(2);
    expect(bad.errorJson().error.code).toBe('BAD_PASSPHRASE');
    const truncated = path.join(work, 'truncated.json');
    await writeFile(truncated, text.slice(0, 200));
    const cut = await run(['restore', truncated, '--ledger', O, '--json'], { env: PASS });
    expect(cut.code).toBe(2);
    expect(cut.errorJson().error.code).toBe('BAD_BACKUP');
    const other = await run(['restore', backupFile, '--ledger', O, '--json'], { env: PASS });
    expect(other.code).toBe(2);
    expect(other.errorJson().error.code).toBe('WRONG_LEDGER');
    expect(await hashTree(O)).toBe(before);
  });
});
