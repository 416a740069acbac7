/**
 * A push sends the journal's stored packs as they are when every object in them is to be sent (pack-reuse.ts),
 * builds the objects of every other event, and never reuses a pack whose bytes fail their CRC-32: what reaches
 * a real `git http-backend` is whole either way (`git fsck` clean, every commit there).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { parsePack } from '../../../src/lib/adapters/git/pack.ts';
import { reusingPack, type EventObjects } from '../../../src/lib/adapters/git/pack-reuse.ts';
import { push } from '../../../src/lib/adapters/git/remote.ts';
import { eventTree } from '../../../src/lib/core/journal/commit.ts';
import { concatAll } from '../../../src/lib/core/bytes.ts';
import { JournalCommits } from '../../../src/lib/core/journal/signatures.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

let server: GitServer;
let tmp: string;
beforeAll(async () => {
  server = await startGitServer();
  tmp = mkdtempSync(path.join(tmpdir(), 'pack-reuse-'));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const git = (gitdir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8' }).trim();

async function packedJournal(dir: string, events: number) {
  const l = await newLedger();
  for (let i = 0; i < events; i++) await l.ledger.append('generation', generationBody());
  const journal = await GitJournal.attach(nodeBinding(dir), l.ledger);
  await journal.pack(); // everything in one pack with deltas
  return { ...l, journal, gitdir: path.join(dir, 'journal.git') };
}

async function eventObjects(journal: GitJournal): Promise<EventObjects[]> {
  await JournalCommits.ready();
  return journal.ledger.events().map((ev) => {
    const { tree, blob } = eventTree(ev, new TextEncoder().encode(journal.ledger.envelopeJson(ev.id)!));
    return { id: ev.id, oids: [journal.commitOf(ev.id)!, tree.oid, blob.oid] };
  });
}

const built = (journal: GitJournal) => async (id: string) => {
  const c = (await journal.ledger.journalCommit(id))!;
  return [c.commit, c.tree, c.blob];
};

describe('a push reuses the stored packs', () => {
  it('sends a whole stored pack as it is; the remote holds every commit, fsck clean; the next push builds only the new event', async () => {
    const d = await packedJournal(path.join(tmp, 'a'), 30);
    const events = await eventObjects(d.journal);
    const r = await reusingPack(d.journal.binding, events, built(d.journal), (b) => deflateSync(b));
    expect(r.count).toBe(events.length * 3);
    expect(r.reused).toBe(events.length * 3);
    const parsed = await parsePack(concatAll(r.parts), {});
    for (const e of events) for (const oid of e.oids) expect(parsed.objects.has(oid)).toBe(true);

    server.createRepo('reuse.git');
    const url = server.url('reuse.git');
    const first = await push(d.journal, url);
    expect(first.sent).toBe(d.ledger.size);
    const remote = path.join(server.root, 'reuse.git');
    expect(Number(git(remote, 'rev-list', '--count', 'main'))).toBe(d.ledger.size);
    git(remote, 'fsck', '--strict');

    await d.ledger.append('generation', generationBody());
    await d.journal.settled();
    const second = await push(d.journal, url);
    expect(second.sent).toBe(1);
    expect(Number(git(remote, 'rev-list', '--count', 'main'))).toBe(d.ledger.size);
    expect(git(remote, 'rev-parse', 'main')).toBe(d.journal.commitOf(d.ledger.heads()[0]));
    git(remote, 'fsck', '--strict');
  }, 120_000);

  it('a stored pack that fails its CRC-32, or holds an object not to be sent, is not reused: those objects are built', async () => {
    const d = await packedJournal(path.join(tmp, 'b'), 12);
    const events = await eventObjects(d.journal);
    const deflate = (b: Uint8Array) => deflateSync(b);

    // All but the genesis event: the pack holds an object not to be sent.
    const some = await reusingPack(d.journal.binding, events.slice(1), built(d.journal), deflate);
    expect(some.reused).toBe(0);
    expect(some.count).toBe((events.length - 1) * 3);
    const parsedSome = await parsePack(concatAll(some.parts), {});
    for (const e of events.slice(1)) for (const oid of e.oids) expect(parsedSome.objects.has(oid)).toBe(true);

    // One byte changed inside the stored pack (past its header): its CRC-32 fails, nothing of it is reused.
    const packDir = path.join(d.gitdir, 'objects/pack');
    const packFile = path.join(
      packDir,
      readdirSync(packDir).find((f) => f.endsWith('.pack'))!
    );
    const bytes = readFileSync(packFile);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(packFile, bytes);
    const all = await reusingPack(d.journal.binding, events, built(d.journal), deflate);
    expect(all.reused).toBe(0);
    expect(all.count).toBe(events.length * 3);
    const parsedAll = await parsePack(concatAll(all.parts), {});
    for (const e of events) for (const oid of e.oids) expect(parsedAll.objects.has(oid)).toBe(true);
  }, 120_000);
});
