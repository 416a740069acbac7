import { mkdir, mkdtemp, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { runStorageAdapterTests } from './storage-suite.ts';

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'fs-storage-test-'));
}

runStorageAdapterTests('FsStorage', async () => {
  const root = await tempRoot();
  return {
    adapter: await FsStorage.open(path.join(root, 'ledger')),
    teardown: () => rm(root, { recursive: true, force: true })
  };
});

runStorageAdapterTests('FsStorage (durable: false)', async () => {
  const root = await tempRoot();
  return {
    adapter: await FsStorage.open(path.join(root, 'ledger'), { durable: false }),
    teardown: () => rm(root, { recursive: true, force: true })
  };
});

describe('FsStorage on disk', () => {
  let root: string;
  let dir: string;
  let storage: FsStorage;
  const bytes = (...v: number[]) => new Uint8Array(v);
  const mode = async (p: string) => (await stat(p)).mode & 0o777;

  beforeEach(async () => {
    root = await tempRoot();
    dir = path.join(root, 'ledger');
    storage = await FsStorage.open(dir);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lays a key out as dir/part1/.../partN+', async () => {
    await storage.save(['doc', 'snapshot', 'h1'], bytes(1, 2));
    await storage.save(['doc'], bytes(3));
    expect(storage.dir).toBe(dir);
    expect((await readdir(dir)).sort()).toEqual(['doc', 'doc+']);
    expect(await readdir(path.join(dir, 'doc', 'snapshot'))).toEqual(['h1+']);
  });

  it('creates files 0600 and directories 0700', async () => {
    await storage.save(['keys', 'device', 'private'], bytes(1));
    await storage.saveMany([{ key: ['other', 'x'], data: bytes(2) }]);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, 'keys'))).toBe(0o700);
    expect(await mode(path.join(dir, 'keys', 'device'))).toBe(0o700);
    expect(await mode(path.join(dir, 'keys', 'device', 'private+'))).toBe(0o600);
    expect(await mode(path.join(dir, 'other', 'x+'))).toBe(0o600);
  });

  it('ignores temp files, stray names and symlinks', async () => {
    await storage.save(['a', 'b'], bytes(1));
    await writeFile(path.join(dir, 'a', '.b+.0123456789abcdef.tmp'), 'partial');
    await writeFile(path.join(dir, 'a', 'c'), 'no value suffix');
    await writeFile(path.join(dir, 'a', 'bad name+'), 'not a key part');
    await writeFile(path.join(dir, 'a', '..+'), 'dot dot');
    await mkdir(path.join(dir, 'a', 'dir+'));
    await mkdir(path.join(dir, 'bad dir'));
    await writeFile(path.join(dir, 'bad dir', 'x+'), 'under a bad directory');
    await writeFile(path.join(root, 'secret'), 'outside');
    await symlink(path.join(root, 'secret'), path.join(dir, 'a', 'link+'));
    await symlink(root, path.join(dir, 'linkdir'));

    expect(await storage.listKeys([])).toEqual([['a', 'b']]);
    expect((await storage.loadRange(['a'])).map((c) => c.key)).toEqual([['a', 'b']]);
    expect(await storage.load(['a', 'link'])).toBeUndefined();
    expect(await storage.load(['a', 'dir'])).toBeUndefined();
    expect(await storage.listKeys(['linkdir'])).toEqual([]);
    expect(await storage.listKeys(['linkdir', 'ledger'])).toEqual([]);
    await storage.removeRange(['linkdir', 'ledger']);
    await storage.removeRange(['linkdir']);
    expect(await readdir(root)).toContain('secret');
    expect(await readdir(path.join(dir, 'a'))).toContain('b+');
    await storage.remove(['a', 'dir']);
    await storage.removeRange(['a']);
    expect(await storage.listKeys([])).toEqual([]);
    // The stray files keep their directory; the temp file and the symlink target are untouched.
    expect((await readdir(path.join(dir, 'a'))).sort()).toEqual(
      ['.b+.0123456789abcdef.tmp', '..+', 'bad name+', 'c', 'dir+', 'link+'].sort()
    );
    expect(await readdir(root)).toContain('secret');
  });

  it('removes stale temp files on open, and leaves young ones (another process may be writing them)', async () => {
    await storage.save(['a', 'b'], bytes(1));
    const stale = path.join(dir, 'a', '.b+.0123456789abcdef.tmp');
    const young = path.join(dir, '.x+.fedcba9876543210.tmp');
    const notTemp = path.join(dir, 'a', '.b+.tmp');
    await writeFile(stale, 'partial');
    await writeFile(young, 'partial');
    await writeFile(notTemp, 'not our pattern');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(stale, hourAgo, hourAgo);

    await FsStorage.open(dir);
    expect((await readdir(path.join(dir, 'a'))).sort()).toEqual(['.b+.tmp', 'b+']);
    expect(await readdir(dir)).toContain('.x+.fedcba9876543210.tmp');

    await FsStorage.open(dir, { staleTempMs: 0 });
    expect(await readdir(dir)).not.toContain('.x+.fedcba9876543210.tmp');
    expect(await storage.listKeys([])).toEqual([['a', 'b']]);
  });

  it('leaves no temp file behind after saves', async () => {
    await storage.save(['a', 'b'], bytes(1));
    await storage.save(['a', 'b'], bytes(2));
    await storage.save(['c'], bytes(3));
    expect((await readdir(dir)).sort()).toEqual(['a', 'c+']);
    expect(await readdir(path.join(dir, 'a'))).toEqual(['b+']);
  });

  it('prunes directories left empty by remove and removeRange, never the storage directory', async () => {
    await storage.save(['x', 'y', 'z'], bytes(1));
    await storage.save(['p', 'q'], bytes(1));
    await storage.save(['p', 'r', 's'], bytes(1));
    await storage.remove(['x', 'y', 'z']);
    expect(await readdir(dir)).toEqual(['p']);
    await storage.removeRange(['p']);
    expect(await readdir(dir)).toEqual([]);
    await storage.save(['p', 'q'], bytes(1));
    await storage.removeRange([]);
    expect(await readdir(dir)).toEqual([]);
    expect((await stat(dir)).isDirectory()).toBe(true);
  });

  it('never touches anything outside its directory for hostile keys', async () => {
    await writeFile(path.join(root, 'victim+'), 'keep');
    for (const key of [['..', 'victim'], ['..'], ['a', '..', '..', 'victim'], ['/tmp'], ['..\\victim']]) {
      await expect(storage.save(key, bytes(1))).rejects.toThrow(TypeError);
      await expect(storage.remove(key)).rejects.toThrow(TypeError);
      await expect(storage.removeRange(key)).rejects.toThrow(TypeError);
    }
    expect((await readdir(root)).sort()).toEqual(['ledger', 'victim+']);
    expect(await readdir(dir)).toEqual([]);
  });

  it('loads thousands of small files quickly', async () => {
    const fast = await FsStorage.open(dir, { durable: false });
    const n = 3000;
    for (let i = 0; i < n; i += 500) {
      await fast.saveMany(
        Array.from({ length: 500 }, (_, j) => ({
          key: ['many', `d${(i + j) % 10}`, `k${i + j}`],
          data: bytes(j % 256)
        }))
      );
    }
    const started = performance.now();
    const chunks = await storage.loadRange(['many']);
    const ms = performance.now() - started;
    expect(chunks.length).toBe(n);
    expect(ms).toBeLessThan(5000);
  });

  it('rejects a missing directory name', async () => {
    await expect(FsStorage.open('')).rejects.toThrow(TypeError);
  });
});
