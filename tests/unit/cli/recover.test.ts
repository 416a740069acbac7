/**
 * Recovery from any surviving copy, through the real CLI: a document that lost its newest chunk, a document that
 * is gone, a document with a damaged chunk. verify names what the document lost and says to run `recover` (never
 * `init`); no write drops the journal's copy of a lost event; init refuses a folder holding a ledger's journal or
 * log; recover rebuilds the document from the local journal and the readable chunks, checks every event, reports
 * each one it restored with where it came from, keeps damaged files aside, and leaves a ledger that verifies and
 * goes on. And the vault's startup sweep: an opening no event commits to goes once it is older than the grace
 * period, never an opening of a recorded event.
 */
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { commitPrompt } from '../../../src/lib/core/commitment.ts';
import { PromptVault } from '../../../src/lib/core/vault.ts';
import { cli, hashTree, tempDir } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let n = 0;

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('pl-recover-'));
});
afterAll(async () => cleanup?.());

/** A ledger of four events (genesis, policy-less checklist, two generations) with journal and log. */
async function ledger(): Promise<{ dir: string; pl: ReturnType<typeof cli>; ids: string[] }> {
  const dir = path.join(root, `l${++n}`);
  const pl = cli(dir, root);
  expect((await pl('init', '--name', 'Ada', '--ledger-name', 'Recover Me')).code).toBe(0);
  expect(
    (await pl('record', 'checklist', '--project', 'Robots', '--classification', 'client', '--classified')).code
  ).toBe(0);
  for (const k of ['one', 'two']) {
    await writeFile(path.join(root, `${k}-${n}.glb`), `${k} ${n}\n`);
    const r = await pl(
      'record',
      'generation',
      '--platform',
      'Tripo',
      '--mode',
      'text-to-3d',
      '--prompt',
      `robot ${k}`,
      '--output',
      `${k}-${n}.glb`,
      '--project',
      'Robots',
      '--classification',
      'client'
    );
    expect(r.code, r.stderr).toBe(0);
  }
  const log = await pl('log', '--json');
  const ids = (log.json().events as Array<{ id: string }>).map((e) => e.id);
  expect(ids).toHaveLength(4);
  return { dir, pl, ids };
}

/** The newest document chunk's file (by modification time). */
async function newestChunk(dir: string): Promise<string> {
  const incr = path.join(dir, 'doc', 'incr');
  const files = await Promise.all(
    (await readdir(incr)).map(async (f) => ({ f, t: (await stat(path.join(incr, f))).mtimeMs }))
  );
  return path.join(incr, files.sort((a, b) => a.t - b.t).at(-1)!.f);
}

describe('recover', () => {
  it('a lost newest chunk: verify names the event and says recover; writes refuse to drop it; recover restores it', async () => {
    const { dir, pl, ids } = await ledger();
    const lost = ids[3];
    await rm(await newestChunk(dir));
    const v = await pl('verify', '--json');
    expect(v.code).toBe(1);
    const report = v.json();
    const named = report.problems.find((p: { code: string }) => p.code === 'EVENT_NOT_IN_DOCUMENT');
    expect(named, v.stdout).toMatchObject({ eventId: lost });
    expect(named.message).toContain(`event ${lost} is in the journal`);
    expect(named.message).toContain('provenance-ledger recover');
    expect(report.advice.join('\n')).toContain('provenance-ledger recover');
    expect(report.problems.some((p: { code: string }) => p.code === 'JOURNAL_EXTRA')).toBe(false);

    // No write drops the journal's commit of the lost event: refused before anything is written.
    const before = await hashTree(dir);
    await writeFile(path.join(root, `three-${n}.glb`), 'three\n');
    const rec = await pl(
      'record',
      'generation',
      '--platform',
      'Tripo',
      '--prompt',
      'three',
      '--output',
      `three-${n}.glb`,
      '--project',
      'Robots',
      '--classification',
      'client',
      '--json'
    );
    expect(rec.code).toBe(2);
    expect(rec.errorJson().error.code).toBe('EVENT_NOT_IN_DOCUMENT');
    expect(rec.errorJson().error.message).toContain(lost);
    expect((await pl('checkpoint')).code).toBe(2);
    expect(await hashTree(dir)).toBe(before);

    const r = await pl('recover', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const done = r.json();
    expect(done.rebuilt).toBe(false);
    expect(done.kept).toBe(3);
    expect(done.restored).toHaveLength(1);
    expect(done.restored[0]).toMatchObject({ id: lost, type: 'generation' });
    expect(done.restored[0].from).toMatch(/^journal commit [0-9a-f]{40}$/);
    expect(done.refused).toEqual([]);
    const text = await pl('recover');
    expect(text.stdout).toContain('nothing to recover');

    const after = await pl('verify', '--json');
    expect(after.code, after.stdout).toBe(0);
    expect(after.json().valid).toBe(4);
    expect((await pl('show', lost)).code).toBe(0);
    expect((await pl('reveal', lost)).code).toBe(0); // its prompt opening was kept all along
    expect(
      (
        await pl(
          'record',
          'generation',
          '--platform',
          'Tripo',
          '--prompt',
          'three',
          '--output',
          `three-${n}.glb`,
          '--project',
          'Robots',
          '--classification',
          'client'
        )
      ).code
    ).toBe(0);
    expect((await pl('checkpoint')).code).toBe(0);
    expect((await pl('verify')).code).toBe(0);
  });

  it('doc/ gone: verify and every command say recover, init refuses; recover rebuilds it event by event', async () => {
    const { dir, pl, ids } = await ledger();
    await rename(path.join(dir, 'doc'), path.join(root, `doc-moved-${n}`));
    const v = await pl('verify', '--json');
    expect(v.code).toBe(1);
    expect(v.json().problems).toEqual([expect.objectContaining({ code: 'STORAGE_MISSING', location: 'doc' })]);
    expect(v.json().problems[0].message).toContain(`provenance-ledger recover --ledger ${dir}`);
    expect(v.stdout).not.toMatch(/\binit\b/);
    const before = await hashTree(dir);
    const init = await pl('init', '--name', 'Eve', '--json');
    expect(init.code).toBe(2);
    expect(init.errorJson().error.code).toBe('ALREADY_INITIALIZED');
    expect(init.errorJson().error.message).toContain('recover');
    const log = await pl('log', '--json');
    expect(log.code).toBe(2);
    expect(log.errorJson().error.code).toBe('STORAGE_MISSING');
    expect(log.errorJson().error.message).toContain('recover');
    expect(await hashTree(dir)).toBe(before);

    const r = await pl('recover', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const done = r.json();
    expect(done.rebuilt).toBe(true);
    expect(done.damagedKeptAt).toBeNull(); // nothing was there to keep
    expect(done.restored.map((e: { id: string }) => e.id)).toEqual(ids);
    for (const e of done.restored) expect(e.from).toMatch(/^journal commit /);
    const text = (await pl('recover')).stdout;
    expect(text).toContain('nothing to recover');
    const after = await pl('verify', '--json');
    expect(after.code, after.stdout).toBe(0);
    expect(after.json().valid).toBe(4);
    expect((await pl('log', '--json')).json().events.map((e: { id: string }) => e.id)).toEqual(ids);
    await writeFile(path.join(root, `three-${n}.glb`), 'three\n');
    expect(
      (
        await pl(
          'record',
          'generation',
          '--platform',
          'Tripo',
          '--prompt',
          'three',
          '--output',
          `three-${n}.glb`,
          '--project',
          'Robots',
          '--classification',
          'client'
        )
      ).code
    ).toBe(0);
    expect((await pl('prove', `three-${n}.glb`, '--unwitnessed', '--out', path.join(root, `b-${n}.json`))).code).toBe(
      0
    );
    expect((await pl('verify')).code).toBe(0);
  });

  it('a damaged chunk: recover rebuilds from the journal and the readable chunks, the damaged files kept aside byte for byte', async () => {
    const { dir, pl, ids } = await ledger();
    const incr = path.join(dir, 'doc', 'incr');
    const chunks = (await readdir(incr)).sort();
    const victim = path.join(incr, chunks[0]);
    const bytes = await readFile(victim);
    bytes[bytes.length >> 1] ^= 0x40;
    await writeFile(victim, bytes);
    expect((await pl('verify')).code).toBe(1);
    const r = await pl('recover', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const done = r.json();
    expect(done.rebuilt).toBe(true);
    expect(
      done.documentProblems.some(
        (p: { code: string; location: string }) =>
          p.code === 'STORAGE_CORRUPT' && p.location === `doc/incr/${chunks[0].slice(0, -1)}`
      )
    ).toBe(true);
    expect(done.restored.map((e: { id: string }) => e.id).sort()).toEqual([...ids].sort());
    const aside = done.damagedKeptAt as string;
    expect(path.dirname(aside)).toBe(path.resolve(dir));
    expect(path.basename(aside)).toMatch(/^doc-damaged-/);
    expect((await readdir(path.join(aside, 'incr'))).sort()).toEqual(chunks);
    expect(await readFile(path.join(aside, 'incr', chunks[0]))).toEqual(bytes);
    const after = await pl('verify', '--json');
    expect(after.code, after.stdout).toBe(0);
    expect(after.json().valid).toBe(4);
  });

  it('an event only a chunk beyond a damaged one holds (the journal behind) is read from that chunk, change by change', async () => {
    const { dir, pl, ids } = await ledger();
    // The journal as it was before the newest event (its write cut short): it lacks ids[3].
    const newest = await newestChunk(dir);
    const held = path.join(root, `chunk-${n}`);
    await rm(path.join(dir, 'journal.git'), { recursive: true });
    await rm(path.join(dir, 'journal-commits'), { recursive: true });
    await rename(newest, held);
    expect((await pl('journal', 'repair')).code).toBe(0); // the journal of the first three events
    await rename(held, newest);
    // Damage the checklist's chunk (the second written): every later chunk depends on it.
    const incr = path.join(dir, 'doc', 'incr');
    const byTime = await Promise.all(
      (await readdir(incr)).map(async (f) => ({ f, t: (await stat(path.join(incr, f))).mtimeMs }))
    );
    const second = path.join(incr, byTime.sort((a, b) => a.t - b.t)[1].f);
    const bytes = await readFile(second);
    bytes[bytes.length >> 1] ^= 0x40;
    await writeFile(second, bytes);
    const r = await pl('recover', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const done = r.json();
    expect(done.restored.map((e: { id: string }) => e.id)).toEqual(ids);
    expect(done.restored.find((e: { id: string }) => e.id === ids[3]).from).toBe('the damaged document');
    expect(done.lost).toEqual([]);
    expect((await pl('verify')).code).toBe(0);
  });

  it('an event no copy here holds (chunk and journal both lost) is reported as lost, exit 1; the rest goes on', async () => {
    const { dir, pl, ids } = await ledger();
    await rm(await newestChunk(dir));
    await rm(path.join(dir, 'journal.git'), { recursive: true });
    await rm(path.join(dir, 'journal-commits'), { recursive: true });
    const r = await pl('recover', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json().lost).toEqual([ids[3]]);
    expect(r.json().restored).toEqual([]);
    const text = (await pl('recover')).stdout;
    expect(text).toContain(`lost: event ${ids[3]}`);
  });

  it('the vault sweep: an orphan opening goes once older than the grace period; a recorded one never does', async () => {
    const { dir, pl } = await ledger();
    const vault = path.join(dir, 'vault');
    const recorded = (await readdir(vault)).sort();
    expect(recorded).toHaveLength(2);
    // An opening with no event: what an append killed between its opening and its event leaves.
    const { opening } = await commitPrompt('a prompt whose event was never stored');
    await new PromptVault(await FsStorage.open(dir)).put(opening);
    const orphan = `${opening.commitment}+`;
    const write = () => pl('record', 'checklist', '--project', 'More', '--classification', 'client', '--classified');
    expect((await write()).code).toBe(0);
    expect((await readdir(vault)).sort()).toEqual([...recorded, orphan].sort()); // young: it may be an append under way
    const past = new Date(Date.now() - 3_600_000);
    for (const f of await readdir(vault)) await utimes(path.join(vault, f), past, past);
    expect((await pl('verify')).code).toBe(0); // verify sweeps nothing (it writes only its record, under cache/)
    expect((await readdir(vault)).sort()).toEqual([...recorded, orphan].sort());
    expect((await write()).code).toBe(0);
    expect((await readdir(vault)).sort()).toEqual(recorded);
  });
});
