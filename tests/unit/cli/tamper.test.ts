/** verify on damaged storage: a flipped byte in a stored chunk is reported (exit 1), naming the chunk. */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tempDir } from './helpers.ts';

let work: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir());
});
afterAll(() => cleanup());

/** Stored chunk files (doc/<kind>/<sha256>+) and their hash names. */
async function chunks(L: string): Promise<Array<{ file: string; name: string }>> {
  const out: Array<{ file: string; name: string }> = [];
  for (const kind of ['incr', 'snapshot']) {
    const dir = path.join(L, 'doc', kind);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) if (/^[0-9a-f]{64}\+$/.test(n)) out.push({ file: path.join(dir, n), name: n.slice(0, 64) });
  }
  return out;
}

async function flipByte(file: string): Promise<void> {
  const b = await readFile(file);
  b[Math.floor(b.length / 2)] ^= 0x01;
  await writeFile(file, b);
}

async function ledgerWithEvents(name: string): Promise<string> {
  const L = path.join(work, name);
  expect((await run(['init', '--ledger', L, '--name', 'Ada'])).code).toBe(0);
  for (const project of ['One', 'Two', 'Three']) {
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
  expect((await run(['verify', '--ledger', L])).code).toBe(0);
  return L;
}

describe('verify on tampered storage', () => {
  it('names the incremental chunk whose byte was flipped', async () => {
    const L = await ledgerWithEvents('incr');
    const all = await chunks(L);
    expect(all.length).toBe(4);
    const victim = all[all.length - 1];
    await flipByte(victim.file);

    const r = await run(['verify', '--ledger', L, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const j = r.json();
    expect(j.ok).toBe(false);
    expect(j.problems).toContainEqual(
      expect.objectContaining({ code: 'STORAGE_CORRUPT', location: `doc/incr/${victim.name}` })
    );

    const human = await run(['verify', '--ledger', L]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^FAILED/);
    expect(human.stdout).toContain(`[STORAGE_CORRUPT] doc/incr/${victim.name}`);
    expect(human.stdout).toMatch(/the stored bytes were changed/);

    // Appends are refused on damaged storage; reads say why.
    const rec = await run(['record', 'checklist', '--ledger', L, '--project', 'Four', '--classification', 'public']);
    expect(rec.code).toBe(2);
    expect(rec.stderr).toMatch(/STORAGE_CORRUPT/);
  });

  it('names the snapshot when the only chunk (holding the genesis) is damaged, without crashing', async () => {
    const L = await ledgerWithEvents('snap');
    expect((await run(['compact', '--ledger', L])).code).toBe(0);
    const [snapshot] = await chunks(L);
    expect(snapshot.file).toContain(path.join('doc', 'snapshot'));
    await flipByte(snapshot.file);
    const r = await run(['verify', '--ledger', L, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.json().problems).toContainEqual(
      expect.objectContaining({ code: 'STORAGE_CORRUPT', location: `doc/snapshot/${snapshot.name}` })
    );
  });
});
