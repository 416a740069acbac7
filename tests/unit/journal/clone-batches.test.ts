/**
 * A clone stores its events in batches (adapters/git/fetch.ts, one Ledger.receive per batch), against a real
 * `git http-backend`: the ledger it makes equals one received whole, and a refusal in a late batch, after
 * earlier batches were stored, still leaves no document and no pack behind.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generationBody, newLedger, newSigner } from '../helpers/ledger.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { clone, push } from '../../../src/lib/adapters/git/remote.ts';
import { signEventCommit } from '../../../src/lib/core/journal/commit.ts';
import { EVENT_SPEC, formatTime, signEvent } from '../../../src/lib/core/event.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

let server: GitServer;
let tmp: string;
beforeAll(async () => {
  server = await startGitServer();
  tmp = mkdtempSync(path.join(tmpdir(), 'clone-batches-'));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => vi.restoreAllMocks());

let n = 0;
const freshDir = () => path.join(tmp, `d${++n}`);
const git = (gitdir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8' }).trim();

async function device(signer?: Awaited<ReturnType<typeof newSigner>>) {
  const l = await newLedger(new MemoryStorage(), signer);
  const dir = freshDir();
  return { ...l, dir, journal: await GitJournal.attach(nodeBinding(dir), l.ledger) };
}

/** Everything a ledger holds that a clone must reproduce: each event as stored, the heads. */
function contents(ledger: Ledger) {
  const ids = ledger
    .events()
    .map((e) => e.id)
    .sort();
  return { ids, events: ids.map((id) => ledger.get(id)), heads: [...ledger.heads()].sort() };
}

describe('clone in batches', () => {
  it('makes the same ledger and journal as a clone received whole', async () => {
    server.createRepo('same.git');
    const url = server.url('same.git');
    const a = await device();
    const bob = await newSigner();
    await a.ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob', key: bob.publicKey, role: 'member' }
    });
    await push(a.journal, url);
    const b = await clone(nodeBinding(freshDir()), url, new MemoryStorage(), bob);
    for (let i = 0; i < 4; i++) await a.ledger.append('generation', generationBody());
    for (let i = 0; i < 3; i++) await b.ledger.append('generation', generationBody());
    await a.journal.settled();
    await b.settled();
    await push(a.journal, url);
    expect(b.ledger.size).toBe(a.ledger.size - 4 + 3);
    expect((await push(b, url)).concurrent).toHaveLength(1); // two heads: the history branches
    const events = b.ledger.size; // b pulled a's before pushing
    const bare = path.join(server.root, 'same.git');

    const receive = vi.spyOn(Ledger.prototype, 'receive');
    const wholeDir = freshDir();
    const whole = await clone(nodeBinding(wholeDir), url, new MemoryStorage(), undefined, undefined, {
      batch: 1_000
    });
    expect(receive).toHaveBeenCalledTimes(1);
    receive.mockClear();
    const partsDir = freshDir();
    const storage = new MemoryStorage();
    const parts = await clone(nodeBinding(partsDir), url, storage, undefined, undefined, { batch: 2 });
    expect(receive).toHaveBeenCalledTimes(Math.ceil(events / 2)); // the genesis among them, held already

    expect(parts.ledger.size).toBe(events);
    expect(contents(parts.ledger)).toEqual(contents(whole.ledger));
    expect(parts.ledger.heads()).toHaveLength(2);
    expect((await parts.ledger.verify({ full: true })).ok).toBe(true);
    // One stored chunk per batch, beside the genesis's.
    const chunks = await storage.listKeys(['doc']);
    expect(chunks.map((k) => k[1])).toEqual(chunks.map(() => 'incr'));
    expect(chunks).toHaveLength(Math.ceil(events / 2) + 1);
    // The same journal: every ref, and the same commits as the remote.
    const refs = (dir: string) =>
      git(path.join(dir, 'journal.git'), 'for-each-ref', '--format=%(refname) %(objectname)');
    expect(refs(partsDir)).toBe(refs(wholeDir));
    expect(git(path.join(partsDir, 'journal.git'), 'rev-parse', 'main')).toBe(git(bare, 'rev-parse', 'main'));
    expect(git(path.join(partsDir, 'journal.git'), 'rev-list', '--all', '--count')).toBe(String(events));
    git(path.join(partsDir, 'journal.git'), 'fsck', '--strict');
  });

  it('a refused event in a late batch leaves no document and no pack behind', async () => {
    server.createRepo('late.git');
    const url = server.url('late.git');
    const a = await device();
    for (let i = 0; i < 6; i++) await a.ledger.append('generation', generationBody());
    await a.journal.settled();
    await push(a.journal, url);
    const bare = path.join(server.root, 'late.git');
    // An outsider's event on top, its commit signed by the outsider as the event's author: refused by the
    // ledger's membership check, which runs in the last batch.
    const outsider = await newSigner();
    const parents = a.ledger.heads();
    const ev = {
      spec: EVENT_SPEC,
      type: 'generation',
      ledger: a.ledger.id,
      author: outsider.publicKey,
      time: formatTime(new Date(Date.parse('2026-12-01T00:00:00Z'))),
      parents,
      body: generationBody()
    } as any;
    const signed = await signEvent(ev, outsider);
    const c = await signEventCommit(
      {
        ev: { id: signed.id, event: ev, sig: signed.envelope.sig },
        parentOids: parents.map((p) => a.journal.commitOf(p)!),
        authorName: ''
      },
      outsider
    );
    for (const o of [c.blob, c.tree, c.commit])
      execFileSync('git', ['--git-dir', bare, 'hash-object', '-w', '-t', o.type, '--stdin'], { input: o.content });
    git(bare, 'update-ref', 'refs/heads/main', c.commit.oid);

    const receive = vi.spyOn(Ledger.prototype, 'receive');
    const dir = freshDir();
    const storage = new MemoryStorage();
    const err = await clone(nodeBinding(dir), url, storage, undefined, undefined, { batch: 2 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'COMMIT_REFUSED' });
    expect(err.message).toContain(c.commit.oid);
    expect(err.message).toContain('AUTHOR_NOT_MEMBER');
    expect(receive).toHaveBeenCalledTimes(4); // 8 events (the genesis among them), 2 a batch: refused in the fourth
    expect(await storage.listKeys(['doc'])).toEqual([]);
    expect(await Ledger.exists(storage)).toBe(false);
    expect(readdirSync(path.join(dir, 'journal.git', 'objects', 'pack')).filter((f) => f.endsWith('.pack'))).toEqual(
      []
    );
    // The same remote without the refused commit clones whole.
    git(bare, 'update-ref', 'refs/heads/main', a.journal.commitOf(parents[0])!);
    const ok = await clone(nodeBinding(freshDir()), url, new MemoryStorage(), undefined, undefined, { batch: 2 });
    expect(contents(ok.ledger)).toEqual(contents(a.ledger));
  });
});
