/**
 * Git journal benchmark hooks (issue 3), called by tests/bench/bench.ts through `bench(ctx)`; runnable alone:
 *   node tests/bench/journal.ts [N]
 *
 *   journal_commits_per_s           commits the journal writes per second: a device materializing N events'
 *                                   signed commits from the document (blob, tree, commit, refs, map, and the
 *                                   pack they end in), N = 10,000
 *   journal_append_per_s            ledger appends per second with the journal attached (each append awaited
 *                                   before the next: one commit, one ref update, one map file per append)
 *   git_fast_import_commits_per_s   stock `git fast-import` of the same N events (same trees, messages,
 *                                   authors, parents; unsigned: git 2.39's fast-import has no gpgsig), same run
 *   journal_bytes_per_event         bytes of DIR/journal.git (every file) / N, after packing
 *   journal_commit_ids_bytes_per_event  bytes of the commit-id cache beside it (DIR/journal-commits) / N
 *   push_10k_s                      push of the N-event journal to a local `git http-backend`
 *   clone_10k_s                     clone from it and rebuild a verifying ledger (every commit, event and
 *                                   membership checked once, by Ledger.receive)
 *   isomorphic_git_push_10k_s       the anchor of our own Git code: isomorphic-git (isomorphic-git/http/node,
 *                                   Node's fs) pushing the same journal.git to another empty repository there
 *   isomorphic_git_clone_10k_s      isomorphic-git cloning that repository (one event.json checked out)
 *   journal_reopen_10k_ms           what a CLI write does on top of opening the ledger: a fresh Ledger over the
 *                                   same storage (commit-id hints of this process forgotten), journal attached,
 *                                   one append written; with the journal's commit-id file (event-map.ts)
 *   journal_reopen_10k_nohints_ms   the same with that file removed (every commit id computed)
 */
import '@automerge/automerge';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ledger } from '../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../src/lib/core/keys.ts';
import { GitJournal } from '../../src/lib/adapters/git/journal.ts';
import { HINTS_DIR } from '../../src/lib/adapters/git/event-map.ts';
import { commitHints } from '../../src/lib/core/journal/signatures.ts';
import type { Signer } from '../../src/lib/core/keys.ts';
import type { StorageAdapter } from '../../src/lib/core/storage.ts';
import { nodeBinding } from '../../src/lib/adapters/git/node.ts';
import { clone, push } from '../../src/lib/adapters/git/remote.ts';
import { startGitServer } from '../helpers/git-http-server.ts';
import { checklistBody, generationBodies, policySnapshotBody } from './events.ts';
import type { EventType } from '../../src/lib/core/types.ts';

interface Ctx {
  n?: number;
  tmpDir?: string;
  log?: (s: string) => void;
}

function dirBytes(d: string): number {
  let total = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/** A ledger of `n` events (genesis, a policy snapshot, a checklist, generations), appended in groups. */
export async function buildLedger(
  n: number,
  storage: StorageAdapter = new MemoryStorage(),
  signer?: Signer
): Promise<Ledger> {
  if (!signer) {
    const k = await generateDeviceKey(false);
    signer = signerFromCryptoKey(k.privateKey, k.publicKey);
  }
  let t = Date.parse('2026-11-03T09:00:00.000Z');
  const ledger = await Ledger.create({
    storage,
    signer,
    memberName: 'Ada',
    ledgerName: 'Bench',
    now: () => new Date((t += 1000))
  });
  const ps = await ledger.append('policy-snapshot' as EventType, policySnapshotBody());
  const cl = await ledger.append('checklist' as EventType, checklistBody(ps.id));
  const bodies = generationBodies(n - 3, { policySnapshot: ps.id, checklist: cl.id });
  for (let i = 0; i < bodies.length; i += 256)
    await Promise.all(bodies.slice(i, i + 256).map((b) => ledger.append('generation' as EventType, b)));
  return ledger;
}

/** The fast-import stream of the journal's commits (same blobs, trees, messages, authors and parents). */
function fastImportStream(ledger: Ledger): Buffer {
  const parts: Buffer[] = [];
  const mark = new Map<string, number>();
  let m = 0;
  for (const ev of ledger.events()) {
    const json = Buffer.from(ledger.envelopeJson(ev.id)!);
    const blob = ++m;
    parts.push(Buffer.from(`blob\nmark :${blob}\ndata ${json.length}\n`), json, Buffer.from('\n'));
    const c = ++m;
    mark.set(ev.id, c);
    const commit = execFileSafe(ledger, ev.id);
    const msg = Buffer.from(commit.message);
    const parents = ev.event.parents.map((p) => mark.get(p)!);
    parts.push(
      Buffer.from(
        `commit refs/heads/main\nmark :${c}\nauthor ${commit.author}\ncommitter ${commit.author}\ndata ${msg.length}\n`
      ),
      msg,
      Buffer.from(
        (parents.length ? `from :${parents[0]}\n` : 'deleteall\n') +
          parents
            .slice(1)
            .map((p) => `merge :${p}\n`)
            .join('') +
          `M 100644 :${blob} event.json\n\n`
      )
    );
  }
  return Buffer.concat(parts);
}

const commitCache = new Map<string, { author: string; message: string; blob: Uint8Array }>();
function execFileSafe(_ledger: Ledger, id: string): { author: string; message: string } {
  return commitCache.get(id)!;
}

async function fillCommitCache(ledger: Ledger): Promise<void> {
  for (const ev of ledger.events()) {
    const c = (await ledger.journalCommit(ev.id))!;
    const text = new TextDecoder().decode(c.commit.content);
    const author = /^author (.*)$/m.exec(text)![1];
    commitCache.set(ev.id, { author, message: text.slice(text.indexOf('\n\n') + 2), blob: c.blob.content });
  }
}

/**
 * isomorphic-git's push of `gitdir`'s main to a new empty repository on `server`, and its clone of that (checkout of
 * the one event.json included), each timed; both checked by `git rev-list --count` against `n` commits.
 */
export async function isomorphicGitAnchors(
  gitdir: string,
  server: Awaited<ReturnType<typeof startGitServer>>,
  tmp: string,
  n: number
): Promise<{ isomorphic_git_push_10k_s: number; isomorphic_git_clone_10k_s: number }> {
  const git = await import('isomorphic-git');
  const http = (await import('isomorphic-git/http/node')).default;
  const fs = await import('node:fs');
  const repo = `iso-${Math.random().toString(36).slice(2, 8)}.git`;
  server.createRepo(repo);
  const url = server.url(repo);
  let t0 = performance.now();
  const pushed = await git.push({ fs, http, gitdir, url, ref: 'main', remoteRef: 'main' });
  const isomorphic_git_push_10k_s = +((performance.now() - t0) / 1000).toFixed(2);
  if (!pushed.ok) throw new Error(`isomorphic-git push failed: ${JSON.stringify(pushed)}`);
  const count = (dir: string) =>
    Number(execFileSync('git', ['--git-dir', dir, 'rev-list', '--count', 'main'], { encoding: 'utf8' }).trim());
  if (count(path.join(server.root, repo)) !== n)
    throw new Error(`isomorphic-git pushed ${count(path.join(server.root, repo))} commits, not ${n}`);
  const dir = path.join(tmp, 'iso-clone');
  t0 = performance.now();
  await git.clone({ fs, http, dir, url, ref: 'main', singleBranch: true });
  const isomorphic_git_clone_10k_s = +((performance.now() - t0) / 1000).toFixed(2);
  if (count(path.join(dir, '.git')) !== n)
    throw new Error(`isomorphic-git cloned ${count(path.join(dir, '.git'))} commits, not ${n}`);
  return { isomorphic_git_push_10k_s, isomorphic_git_clone_10k_s };
}

export async function bench(ctx: Ctx = {}): Promise<Record<string, number>> {
  const n = ctx.n ?? 10_000;
  const log = ctx.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const tmp = mkdtempSync(path.join(ctx.tmpDir ?? tmpdir(), 'journal-bench-'));
  const server = await startGitServer();
  try {
    log(`journal: building a ledger of ${n} events`);
    const k = await generateDeviceKey(false);
    const signer = signerFromCryptoKey(k.privateKey, k.publicKey);
    const storage = new MemoryStorage();
    const ledger = await buildLedger(n, storage, signer);

    // 1. Materializing every commit (what a device does on attach, or after a sync brings N events).
    const a = path.join(tmp, 'a');
    let t0 = performance.now();
    const journal = await GitJournal.attach(nodeBinding(a), ledger);
    await journal.pack();
    const writeS = (performance.now() - t0) / 1000;
    if (journal.size !== n) throw new Error(`the journal holds ${journal.size} commits, not ${n}`);
    const journal_commits_per_s = Math.round(n / writeS);
    const journal_bytes_per_event = Math.round(dirBytes(path.join(a, 'journal.git')) / n);
    const journal_commit_ids_bytes_per_event = Math.round(dirBytes(path.join(a, HINTS_DIR)) / n);
    log(
      `journal: ${n} commits in ${writeS.toFixed(2)} s; ${journal_bytes_per_event} B/event in journal.git, ${journal_commit_ids_bytes_per_event} B/event in its commit-id cache beside it`
    );

    // 2. Push to and clone from a local git http-backend (before step 5 appends to the storage behind this ledger).
    server.createRepo('bench.git');
    const url = server.url('bench.git');
    t0 = performance.now();
    await push(journal, url);
    const push_10k_s = +((performance.now() - t0) / 1000).toFixed(2);
    const b = path.join(tmp, 'b');
    t0 = performance.now();
    const cloned = await clone(nodeBinding(b), url, new MemoryStorage());
    const clone_10k_s = +((performance.now() - t0) / 1000).toFixed(2);
    if (cloned.ledger.size !== n) throw new Error(`the clone holds ${cloned.ledger.size} events, not ${n}`);
    log(`journal: push ${push_10k_s} s, clone ${clone_10k_s} s`);

    // 2b. The anchor of our own Git code: isomorphic-git (its Node HTTP client, Node's fs) pushing the same
    // journal.git to another empty repository on the same server, and cloning that.
    const iso = await isomorphicGitAnchors(path.join(a, 'journal.git'), server, tmp, n);
    log(`journal: isomorphic-git push ${iso.isomorphic_git_push_10k_s} s, clone ${iso.isomorphic_git_clone_10k_s} s`);

    // 5. A CLI write on this journal: a fresh Ledger over the same storage (as a new process opens it; the
    // hints this process registered forgotten), the journal attached, one append written. With the journal's
    // commit-id file, then without it. Ledger.open itself is the same in both and not counted.
    journal.detach();
    const reopen = async () => {
      commitHints.delete();
      const l = await Ledger.open({ storage, signer, now: () => new Date(Date.parse('2027-01-01T00:00:00Z')) });
      const t1 = performance.now();
      const j = await GitJournal.attach(nodeBinding(a), l);
      await l.append(
        'generation' as EventType,
        generationBodies(1, { policySnapshot: l.events()[1].id, checklist: l.events()[2].id }, 99)[0]
      );
      await j.settled();
      const ms = performance.now() - t1;
      j.detach();
      return { ms, hinted: j.hintedAtOpen };
    };
    const withFile = await reopen();
    rmSync(path.join(a, HINTS_DIR), { recursive: true, force: true });
    const withoutFile = await reopen();
    const journal_reopen_10k_ms = Math.round(withFile.ms);
    const journal_reopen_10k_nohints_ms = Math.round(withoutFile.ms);
    log(
      `journal: reopen + attach + one append: ${journal_reopen_10k_ms} ms with the commit-id file (${withFile.hinted} ids from it), ${journal_reopen_10k_nohints_ms} ms without (${withoutFile.hinted})`
    );
    commitHints.delete();

    // 3. Stock git fast-import of the same events.
    await fillCommitCache(ledger);
    const stream = fastImportStream(ledger);
    const fi = path.join(tmp, 'fi.git');
    execFileSync('git', ['init', '-q', '--bare', fi]);
    t0 = performance.now();
    const r = spawnSync('git', ['--git-dir', fi, 'fast-import', '--quiet'], { input: stream, maxBuffer: 1 << 30 });
    const fiS = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`git fast-import failed: ${r.stderr}`);
    const git_fast_import_commits_per_s = Math.round(n / fiS);

    // 4. Appends with the journal attached, one at a time.
    const seqN = Math.min(1000, n);
    const small = await buildLedger(3);
    const sj = await GitJournal.attach(nodeBinding(path.join(tmp, 's')), small);
    const bodies = generationBodies(seqN, { policySnapshot: small.events()[1].id, checklist: small.events()[2].id }, 7);
    t0 = performance.now();
    for (const b of bodies) await small.append('generation' as EventType, b);
    const journal_append_per_s = Math.round(seqN / ((performance.now() - t0) / 1000));
    if (sj.size !== seqN + 3) throw new Error('the journal did not keep in step with appends');

    return {
      journal_commits_per_s,
      journal_append_per_s,
      git_fast_import_commits_per_s,
      journal_bytes_per_event,
      push_10k_s,
      clone_10k_s,
      ...iso,
      journal_reopen_10k_ms,
      journal_reopen_10k_nohints_ms,
      journal_commit_ids_bytes_per_event
    };
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await bench({ n: Number(process.argv[2] ?? 10_000) }), null, 2));
  process.exit(0);
}
