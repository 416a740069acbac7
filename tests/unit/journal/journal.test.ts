/**
 * The Git journal against stock git (verify-commit, log --show-signature, fsck --strict) and a real
 * `git http-backend`: push, pull, clone, every bad input of issue 3, and two devices converging without force.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generationBody, newLedger, newSigner, steppingClock } from '../helpers/ledger.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { clone, pull, push } from '../../../src/lib/adapters/git/remote.ts';
import { allowedSigners } from '../../../src/lib/core/journal/allowed-signers.ts';
import { signEventCommit } from '../../../src/lib/core/journal/commit.ts';
import { EVENT_SPEC, formatTime, signEvent } from '../../../src/lib/core/event.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';
import type { Ledger } from '../../../src/lib/core/ledger.ts';

let server: GitServer;
let tmp: string;
beforeAll(async () => {
  server = await startGitServer();
  tmp = mkdtempSync(path.join(tmpdir(), 'journal-test-'));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
const freshDir = () => path.join(tmp, `d${++n}`);
const gitIn = (gitdir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8' });

async function device(ledger?: Awaited<ReturnType<typeof newLedger>>) {
  const l = ledger ?? (await newLedger());
  const dir = freshDir();
  const journal = await GitJournal.attach(nodeBinding(dir), l.ledger);
  return { ...l, dir, gitdir: path.join(dir, 'journal.git'), journal };
}

/** Everything local that a refused pull must leave alone. */
function snapshot(ledger: Ledger, gitdir: string) {
  const listing = (d: string): string[] => {
    try {
      return readdirSync(d, { recursive: true }).map(String).sort();
    } catch {
      return [];
    }
  };
  return JSON.stringify({
    size: ledger.size,
    heads: ledger.heads(),
    refs: gitIn(gitdir, 'for-each-ref'),
    files: listing(gitdir)
  });
}

describe('journal commits', () => {
  it('every event is a signed commit that stock git verifies, with a clean fsck', async () => {
    const d = await device();
    await d.ledger.append('generation', generationBody());
    await d.ledger.append('generation', generationBody());
    await d.journal.settled();
    expect(d.journal.size).toBe(3);
    const signers = path.join(d.dir, 'allowed');
    writeFileSync(signers, allowedSigners(d.ledger.roster(), d.ledger.name));
    const cfg = ['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${signers}`];
    for (const ev of d.ledger.events()) {
      const oid = d.journal.commitOf(ev.id)!;
      execFileSync('git', ['--git-dir', d.gitdir, ...cfg, 'verify-commit', oid], { stdio: 'pipe' });
      const body = gitIn(d.gitdir, 'cat-file', 'blob', `${oid}:event.json`);
      expect(JSON.parse(body).event).toEqual(ev.event);
      expect(gitIn(d.gitdir, 'log', '-1', '--format=%(trailers:key=Event-Id,valueonly)', oid).trim()).toBe(ev.id);
    }
    const log = execFileSync('git', ['--git-dir', d.gitdir, ...cfg, 'log', '--show-signature'], {
      encoding: 'utf8',
      stdio: 'pipe'
    });
    expect(log.match(/Good "git" signature/g)).toHaveLength(3);
    expect(gitIn(d.gitdir, 'log', '--oneline')).toMatch(/generation: Tripo v2.5 text-to-3d -> robot-\d+\.glb/);
    gitIn(d.gitdir, 'fsck', '--strict');
  });

  it('the same event is the same commit on every device', async () => {
    const d1 = await device();
    await d1.ledger.append('generation', generationBody());
    const d2 = await device({ ...d1 }); // a second journal of the same ledger and key, elsewhere
    await d1.journal.settled();
    for (const ev of d1.ledger.events()) expect(d2.journal.commitOf(ev.id)).toBe(d1.journal.commitOf(ev.id));
  });
});

describe('push, pull, clone over smart HTTP', () => {
  it('clone rebuilds a verifying ledger; pull brings what is new', async () => {
    server.createRepo('a.git');
    const url = server.url('a.git');
    const d = await device();
    for (let i = 0; i < 4; i++) await d.ledger.append('generation', generationBody());
    await push(d.journal, url);
    const dir = freshDir();
    const c = await clone(nodeBinding(dir), url, new MemoryStorage());
    expect(c.ledger.id).toBe(d.ledger.id);
    expect(c.ledger.size).toBe(5);
    expect((await c.ledger.verify()).ok).toBe(true);
    expect(c.size).toBe(5);
    await d.ledger.append('generation', generationBody());
    await push(d.journal, url);
    expect((await pull(c, url)).received).toBe(1);
    expect(c.ledger.heads()).toEqual(d.ledger.heads());
    gitIn(path.join(dir, 'journal.git'), 'fsck', '--strict');
    gitIn(path.join(server.root, 'a.git'), 'fsck', '--strict');
  });

  it('two devices appending concurrently both push without force and converge', async () => {
    server.createRepo('b.git');
    const url = server.url('b.git');
    const a = await device();
    const bSigner = await newSigner();
    await a.ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob', key: bSigner.publicKey, role: 'member' }
    });
    await push(a.journal, url);
    const bDir = freshDir();
    const b = await clone(nodeBinding(bDir), url, new MemoryStorage(), bSigner);
    await a.ledger.append('generation', generationBody());
    await b.ledger.append('generation', generationBody());
    await a.journal.settled();
    await b.settled();
    await push(a.journal, url);
    const pb = await push(b, url); // main cannot move to b's event: it gets a concurrent ref
    expect(pb.concurrent).toHaveLength(1);
    await pull(a.journal, url);
    expect(a.ledger.heads()).toEqual(b.ledger.heads());
    await a.ledger.append('generation', generationBody()); // names both heads
    await push(a.journal, url);
    await pull(b, url);
    expect(b.ledger.heads()).toEqual(a.ledger.heads());
    expect(await b.resolve('refs/heads/main')).toBe(await a.journal.resolve('refs/heads/main'));
    const remoteRefs = gitIn(path.join(server.root, 'b.git'), 'for-each-ref', '--format=%(refname)');
    expect(remoteRefs.trim()).toBe('refs/heads/main');
    gitIn(path.join(server.root, 'b.git'), 'fsck', '--strict');
  });
});

describe('bad input: a clear error and nothing local changes', () => {
  it('an unreachable remote', async () => {
    const d = await device();
    const before = snapshot(d.ledger, d.gitdir);
    await expect(pull(d.journal, 'http://127.0.0.1:9/none.git')).rejects.toMatchObject({ code: 'REMOTE_UNREACHABLE' });
    expect(snapshot(d.ledger, d.gitdir)).toBe(before);
  });

  it('wrong credentials', async () => {
    const locked = await startGitServer({ auth: { username: 'ada', password: 'right' } });
    try {
      locked.createRepo('l.git');
      const d = await device();
      const binding = { ...nodeBinding(d.dir), credentials: async () => ({ username: 'ada', password: 'wrong' }) };
      const j = await GitJournal.attach(binding, d.ledger);
      const before = snapshot(d.ledger, d.gitdir);
      await expect(push(j, locked.url('l.git'))).rejects.toMatchObject({ code: 'REMOTE_AUTH_FAILED' });
      expect(snapshot(d.ledger, d.gitdir)).toBe(before);
      const ok = { ...nodeBinding(d.dir), credentials: async () => ({ username: 'ada', password: 'right' }) };
      j.detach();
      await push(await GitJournal.attach(ok, d.ledger), locked.url('l.git'));
    } finally {
      await locked.close();
    }
  });

  /** A remote holding a ledger; b has pulled its first part; then the remote's history is edited. */
  async function setup(repo: string) {
    server.createRepo(repo);
    const url = server.url(repo);
    const a = await device();
    await a.ledger.append('generation', generationBody());
    await push(a.journal, url);
    const b = await clone(nodeBinding(freshDir()), url, new MemoryStorage());
    await a.ledger.append('generation', generationBody());
    await push(a.journal, url);
    return { url, a, b, bare: path.join(server.root, repo) };
  }

  it('a tampered commit', async () => {
    const { url, b, bare } = await setup('t.git');
    const tip = gitIn(bare, 'rev-parse', 'main').trim();
    const raw = gitIn(bare, 'cat-file', 'commit', tip).replace('generation: Tripo', 'generation: Meshy');
    const forged = execFileSync('git', ['--git-dir', bare, 'hash-object', '-w', '-t', 'commit', '--stdin'], {
      input: raw,
      encoding: 'utf8'
    }).trim();
    gitIn(bare, 'update-ref', 'refs/heads/main', forged);
    const before = snapshot(b.ledger, b.gitdir);
    const err = await pull(b, url).catch((e) => e);
    expect(err).toMatchObject({ code: 'COMMIT_REFUSED' });
    expect(err.message).toContain(forged);
    expect(err.message).toMatch(/differs from the commit its event .* determines/);
    expect(snapshot(b.ledger, b.gitdir)).toBe(before);
    gitIn(b.gitdir, 'fsck', '--strict');
  });

  it('a commit signed by a non-member', async () => {
    const { url, a, b, bare } = await setup('m.git');
    const outsider = await newSigner();
    const parents = a.ledger.heads();
    const event = {
      spec: EVENT_SPEC,
      type: 'generation',
      ledger: a.ledger.id,
      author: outsider.publicKey,
      time: formatTime(new Date(Date.parse('2026-12-01T00:00:00Z'))),
      parents,
      body: generationBody()
    } as any;
    const { id, envelope } = await signEvent(event, outsider);
    const c = await signEventCommit(
      {
        ev: { id, event, sig: envelope.sig },
        parentOids: parents.map((p) => a.journal.commitOf(p)!),
        authorName: 'Mallory'
      },
      outsider
    );
    for (const o of [c.blob, c.tree, c.commit])
      execFileSync('git', ['--git-dir', bare, 'hash-object', '-w', '-t', o.type, '--stdin'], { input: o.content });
    gitIn(bare, 'update-ref', 'refs/heads/main', c.commit.oid);
    const before = snapshot(b.ledger, b.gitdir);
    const err = await pull(b, url).catch((e) => e);
    expect(err).toMatchObject({ code: 'COMMIT_REFUSED' });
    expect(err.message).toContain(c.commit.oid);
    expect(err.message).toContain('AUTHOR_NOT_MEMBER');
    expect(snapshot(b.ledger, b.gitdir)).toBe(before);
  });

  it("a clone of a remote holding a non-member's commit or a forged event is refused, naming the commit", async () => {
    // Clone checks each event once, in Ledger.receive (fetch.ts): a single refusal fails the whole clone.
    const { url, a, bare } = await setup('c.git');
    const good = gitIn(bare, 'rev-parse', 'main').trim();
    const parents = a.ledger.heads();
    const parentOids = parents.map((p) => a.journal.commitOf(p)!);
    const time = formatTime(new Date(Date.parse('2026-12-01T00:00:00Z')));
    const plant = async (ev: any, signer: any, authorName: string) => {
      const c = await signEventCommit({ ev, parentOids, authorName }, signer);
      for (const o of [c.blob, c.tree, c.commit])
        execFileSync('git', ['--git-dir', bare, 'hash-object', '-w', '-t', o.type, '--stdin'], { input: o.content });
      gitIn(bare, 'update-ref', 'refs/heads/main', c.commit.oid);
      return c.commit.oid;
    };
    // 1. An outsider's event (its commit as the outsider would make it: no roster name).
    const outsider = await newSigner();
    const e1 = {
      spec: EVENT_SPEC,
      type: 'generation',
      ledger: a.ledger.id,
      author: outsider.publicKey,
      time,
      parents,
      body: generationBody()
    } as any;
    const s1 = await signEvent(e1, outsider);
    const c1 = await plant({ id: s1.id, event: e1, sig: s1.envelope.sig }, outsider, '');
    const err1 = await clone(nodeBinding(freshDir()), url, new MemoryStorage()).catch((e) => e);
    expect(err1).toMatchObject({ code: 'COMMIT_REFUSED' });
    expect(err1.message).toContain(c1);
    expect(err1.message).toContain('AUTHOR_NOT_MEMBER');
    // 2. A member's event whose event signature is forged (its commit properly signed by the member's key).
    const e2 = {
      spec: EVENT_SPEC,
      type: 'generation',
      ledger: a.ledger.id,
      author: a.signer.publicKey,
      time,
      parents,
      body: generationBody()
    } as any;
    const s2 = await signEvent(e2, a.signer);
    const forged = s2.envelope.sig.replace(/^./, (ch: string) => (ch === 'A' ? 'B' : 'A'));
    const c2 = await plant({ id: s2.id, event: e2, sig: forged }, a.signer, 'Ada');
    const err2 = await clone(nodeBinding(freshDir()), url, new MemoryStorage()).catch((e) => e);
    expect(err2).toMatchObject({ code: 'COMMIT_REFUSED' });
    expect(err2.message).toContain(c2);
    expect(err2.message).toContain('SIGNATURE_INVALID');
    // The untouched history clones.
    gitIn(bare, 'update-ref', 'refs/heads/main', good);
    expect((await clone(nodeBinding(freshDir()), url, new MemoryStorage())).ledger.size).toBe(a.ledger.size);
  });

  it('a history that lacks what we pushed before', async () => {
    const { url, a, bare } = await setup('h.git');
    const genesis = a.journal.commitOf(a.ledger.id)!;
    gitIn(bare, 'update-ref', 'refs/heads/main', genesis);
    const before = snapshot(a.ledger, a.gitdir);
    const err = await push(a.journal, url).catch((e) => e);
    expect(err).toMatchObject({ code: 'REMOTE_HISTORY_LOST' });
    expect(snapshot(a.ledger, a.gitdir)).toBe(before);
  });
});

void steppingClock;
