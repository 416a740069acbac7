/**
 * FsStorage.open's sweep of stale temp files stays inside the key folders it is given (`sweep`): a folder it is
 * not given, a symbolic link to a folder, and files not named as save() names its temp files are never touched;
 * `sweep: []` removes nothing at all.
 */
import { mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { hashTree, tempDir } from '../cli/helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
const longAgo = new Date('2020-01-01T00:00:00Z');

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir('pl-sweep-'));
});
afterEach(() => cleanup());

/** An old file named like a temp file of save() (or not), at `rel` under `dir`. */
async function oldFile(dir: string, rel: string): Promise<void> {
  const file = path.join(dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, 'partial');
  await utimes(file, longAgo, longAgo);
}

describe('FsStorage sweep', () => {
  it('removes stale temp files only in the folders named, never through a symbolic link', async () => {
    const dir = path.join(root, 'ledger');
    const outside = path.join(root, 'outside');
    await oldFile(dir, 'vault/.a+.0123456789abcdef.tmp');
    await oldFile(dir, 'doc/incr/.b+.0123456789abcdef.tmp');
    await oldFile(dir, 'doc/incr/.notes.tmp'); // not the temp pattern
    await oldFile(dir, 'photos/.c+.0123456789abcdef.tmp'); // a folder not named
    await oldFile(dir, 'journal.git/.d+.0123456789abcdef.tmp');
    await oldFile(dir, '.e+.0123456789abcdef.tmp'); // the directory itself
    await oldFile(outside, 'inner/.f+.0123456789abcdef.tmp');
    await symlink(outside, path.join(dir, 'texts'));

    await FsStorage.open(dir, { sweep: ['vault', 'doc', 'texts', 'missing'] });
    expect(await readdir(path.join(dir, 'vault'))).toEqual([]);
    expect(await readdir(path.join(dir, 'doc', 'incr'))).toEqual(['.notes.tmp']);
    expect(await readdir(path.join(dir, 'photos'))).toEqual(['.c+.0123456789abcdef.tmp']);
    expect(await readdir(path.join(dir, 'journal.git'))).toEqual(['.d+.0123456789abcdef.tmp']);
    expect(await readdir(dir)).toContain('.e+.0123456789abcdef.tmp');
    expect(await readdir(path.join(outside, 'inner'))).toEqual(['.f+.0123456789abcdef.tmp']);
  });

  it('sweep: [] changes nothing', async () => {
    const dir = path.join(root, 'ledger');
    await oldFile(dir, 'vault/.a+.0123456789abcdef.tmp');
    await oldFile(dir, '.e+.0123456789abcdef.tmp');
    const before = await hashTree(dir);
    await FsStorage.open(dir, { sweep: [], staleTempMs: 0 });
    expect(await hashTree(dir)).toBe(before);
  });
});
