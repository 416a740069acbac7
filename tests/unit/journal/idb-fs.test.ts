/**
 * The browser binding of the journal over fake-indexeddb: a ledger's journal written into IndexedDB through
 * isomorphic-git and the journal's own writer, read back and repacked; and a clone from a real git
 * http-backend into it (the web HTTP client over Node's fetch, as in a browser with CORS allowed).
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as git from 'isomorphic-git';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { browserBinding, idbFs } from '../../../src/lib/adapters/git/idb-fs.ts';
import { clone, push } from '../../../src/lib/adapters/git/remote.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

let server: GitServer;
beforeAll(async () => {
  server = await startGitServer();
});
afterAll(async () => {
  await server.close();
});

describe('the journal in IndexedDB', () => {
  it('behaves as a file system', async () => {
    const fs = await idbFs('fs-basics');
    await fs.promises.mkdir('/a');
    await fs.promises.writeFile('/a/x', 'hello');
    expect(await fs.promises.readFile('/a/x', 'utf8')).toBe('hello');
    expect(await fs.promises.readdir('/a')).toEqual(['x']);
    await expect(fs.promises.readFile('/a/y')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.promises.mkdir('/a')).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(fs.promises.rmdir('/a')).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    expect((await fs.promises.stat('/a')).isDirectory()).toBe(true);
    fs.close();
  });

  it('writes commits isomorphic-git reads, repacks them, pushes and clones', async () => {
    const { ledger } = await newLedger();
    const binding = await browserBinding({ dbName: 'journal-a' });
    const j = await GitJournal.attach(binding, ledger);
    for (let i = 0; i < 3; i++) await ledger.append('generation', generationBody());
    await Promise.all(Array.from({ length: 10 }, () => ledger.append('generation', generationBody())));
    await j.settled();
    expect(j.size).toBe(14);
    const log = await git.log({ fs: binding.fs, gitdir: binding.gitdir, ref: 'main' });
    expect(log[0].commit.message).toMatch(/^generation: /);
    expect(log[0].oid).toBe(ledger.commitOf(ledger.heads()[0]));
    await j.pack();
    expect((await git.log({ fs: binding.fs, gitdir: binding.gitdir, ref: 'main' })).length).toBe(log.length);
    server.createRepo('web.git');
    await push(j, server.url('web.git'));
    const c = await clone(await browserBinding({ dbName: 'journal-b' }), server.url('web.git'), new MemoryStorage());
    expect(c.ledger.size).toBe(14);
    expect((await c.ledger.verify()).ok).toBe(true);
  });
});
