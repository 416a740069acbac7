/**
 * A removal holds on every path, with real processes: CLI ledgers, a real relay on 127.0.0.1, a real
 * `git http-backend` remote and stock `git verify-commit` (ledger-schema/README.md sections 10, 18 and 19).
 *
 *  - the removed device keeps the signed removal notice a peer showed it: `record` is refused (AUTHOR_REMOVED,
 *    nothing written), `sync` does not start again; what it recorded before, concurrent with the removal, still
 *    counts (pushed, pulled, verified);
 *  - a removed member's later commit (its past holds the removal), pushed with stock git, is refused by `pull`
 *    and `clone` (AUTHOR_REMOVED, naming the event; nothing kept) and by stock git (`valid-before` in
 *    `allowed-signers`); one dated before the removal is refused by the ledger (TIME_BEFORE_PARENT) though stock
 *    git cannot tell;
 *  - `verify` of a ledger that holds such an event (written past the checks) reports it with its code, id and
 *    where.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run, hashTree } from '../cli/helpers.ts';
import { useCliTeam } from './cli-team.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { identitySigner, loadIdentity } from '../../../src/lib/adapters/node/identity.ts';
import { DocStore } from '../../../src/lib/core/docstore.ts';
import { EVENT_SPEC, formatTime, signEvent, type LedgerEvent } from '../../../src/lib/core/event.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { signEventCommit } from '../../../src/lib/core/journal/commit.ts';
import { encodeSig, sigKey } from '../../../src/lib/core/journal/signatures.ts';
import type { UnsignedEvent } from '../../../src/lib/core/types.ts';

let server: GitServer;
beforeAll(async () => {
  server = await startGitServer();
});
afterAll(async () => {
  await server.close();
});
const { dir, pl, startInvite } = useCliTeam('pl-removal-holds-');
/** The CLI on one device's directory (no relay). */
const c = (who: string, ...args: string[]) => run([...args, '--ledger', dir(who)]);
/** Stock git, run asynchronously: the Git server answers from this process. Its dates in UTC (TZ=UTC). */
const git = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn('git', args, { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });

/**
 * What a modified client of the removed device could make: an event by `who`'s key on top of its ledger's heads
 * (so its past holds whatever those hold), at `time`, with its signed journal commit written into `gitdir` by
 * stock git. Returns the event, its envelope, its journal signature and its commit id.
 */
async function forge(who: string, time: Date, project: string) {
  const storage = await FsStorage.open(dir(who));
  const signer = identitySigner((await loadIdentity(storage))!);
  const ledger = await Ledger.open({ storage });
  const heads = ledger.heads();
  const event = {
    spec: EVENT_SPEC,
    type: 'checklist',
    ledger: ledger.id,
    author: signer.publicKey,
    time: formatTime(time),
    parents: heads,
    body: {
      project,
      classification: 'personal',
      policySnapshots: [],
      items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
    }
  } as unknown as UnsignedEvent;
  const { id, envelope, bytes } = await signEvent(event, signer);
  const ev: LedgerEvent = { id, event, sig: envelope.sig };
  const commit = await signEventCommit(
    { ev, parentOids: heads.map((h) => ledger.commitOf(h)!), authorName: ledger.member(signer.publicKey)!.name },
    signer
  );
  const gitdir = path.join(dir(who), 'journal.git');
  for (const o of [commit.blob, commit.tree, commit.commit]) {
    const oid = execFileSync('git', ['--git-dir', gitdir, 'hash-object', '-w', '-t', o.type, '--stdin'], {
      input: o.content,
      encoding: 'utf8'
    }).trim();
    expect(oid).toBe(o.oid);
  }
  return {
    id,
    json: new TextDecoder().decode(bytes),
    sig: encodeSig(commit.signature),
    oid: commit.commit.oid,
    gitdir
  };
}

describe('a removal holds on every path', () => {
  it('the removed device records nothing more; its later commits are refused by pull, clone, verify and stock git', async () => {
    server.createRepo('team.git');
    const url = server.url('team.git');
    const ok = (r: { code: number | null; stdout: string; stderr: string }) =>
      expect(r.code, r.stdout + r.stderr).toBe(0);
    ok(await c('ada', 'init', '--name', 'Ada', '--ledger-name', 'Studio'));
    const inv = await startInvite('ada');
    ok(await pl('grace', 'join', inv.code, '--name', 'Grace'));
    await inv.done;
    ok(await c('ada', 'push', url, '--plain'));
    ok(await c('grace', 'pull', url));

    // Grace, offline, records before she learns anything: concurrent with the removal, it still counts.
    ok(await c('grace', 'record', 'checklist', '--project', 'Offline work', '--classification', 'personal'));
    ok(await c('ada', 'remove', 'Grace'));
    ok(await c('ada', 'push', url, '--plain'));

    // A sync shows Grace's device the signed removal: it keeps it.
    const [sa, sg] = await Promise.all([
      pl('ada', 'sync', '--once', '--wait', '10', '--json'),
      pl('grace', 'sync', '--once', '--wait', '10', '--json')
    ]);
    expect(sa.code).toBe(1); // Ada refused a removed peer
    expect(sg.code, sg.stdout + sg.stderr).toBe(1);
    const told = JSON.parse(
      sg.stdout
        .trim()
        .split(/\n(?=\{)/)
        .at(-1)!
    ).removed;
    expect(told).toMatchObject({ byName: 'Ada' });
    const removalId: string = told.eventId;
    const kept = await (await FsStorage.open(dir('grace'))).load(['team', 'removed']);
    expect(JSON.parse(new TextDecoder().decode(kept)).event.body).toMatchObject({
      action: 'remove',
      member: { name: 'Grace' }
    });

    // From now on Grace's device records nothing, and says why; nothing is written.
    const before = await hashTree(dir('grace'));
    await writeFile(dir('out.glb'), 'glb');
    const rec = await c(
      'grace',
      'record',
      'generation',
      '--platform',
      'Tripo',
      '--prompt',
      'a robot',
      '--output',
      dir('out.glb'),
      '--project',
      'P',
      '--classification',
      'personal',
      '--json'
    );
    expect(rec.code).toBe(2);
    expect(rec.errorJson().error.code).toBe('AUTHOR_REMOVED');
    expect(rec.errorJson().error.message).toContain(`removed from the team by Ada (member event ${removalId}`);
    const rec2 = await c('grace', 'record', 'checklist', '--project', 'Q', '--classification', 'personal');
    expect(rec2.code).toBe(2);
    expect(rec2.stderr).toMatch(/AUTHOR_REMOVED.*records nothing more/);
    expect(await hashTree(dir('grace'))).toBe(before);
    // Nor does it sync again: it says why, without connecting.
    const again = await pl('grace', 'sync', '--once', '--wait', '2');
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/removed from the team by Ada .*it can no longer sync/);

    // What it recorded before counts: its push (pulling the removal first) goes through, Ada pulls and verifies.
    ok(await c('grace', 'push', url, '--plain'));
    const pulled = await c('ada', 'pull', url, '--json');
    ok(pulled);
    expect(pulled.json().received).toBe(1);
    const v = await c('ada', 'verify', '--json');
    ok(v);
    // Stock git agrees: every commit of Ada's journal is Good with Ada's allowed-signers, which gives Grace's key
    // an end (valid-before).
    const signers = dir('allowed-signers');
    const as = await c('ada', 'allowed-signers');
    ok(as);
    await writeFile(signers, as.stdout);
    const graceLine = as.stdout.split('\n').find((l) => l.includes('valid-before='));
    expect(graceLine, as.stdout).toMatch(
      /^[0-9a-f]{16}@provenance-ledger\.invalid namespaces="git",valid-before="\d{14}Z" ssh-ed25519 /
    );
    const adaGit = path.join(dir('ada'), 'journal.git');
    const cfg = ['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${signers}`];
    const commits = (await git(['--git-dir', adaGit, 'rev-list', '--all'])).stdout.trim().split('\n');
    expect(commits.length).toBe(4); // the genesis, Grace's add, her offline checklist, her removal
    for (const oid of commits) {
      const r = await git(['--git-dir', adaGit, ...cfg, 'verify-commit', oid]);
      expect(r.status, r.stderr).toBe(0);
    }

    // A modified client of Grace's device writes anyway, on top of the removal (which her pushes pulled), dated
    // now: stock git pushes it to the remote.
    const graceLedger = await Ledger.open({ storage: await FsStorage.open(dir('grace')) });
    expect(graceLedger.get(removalId)).toBeDefined();
    const later = await forge(
      'grace',
      new Date(Date.parse(graceLedger.get(removalId)!.event.time) + 5_000),
      'After the removal'
    );
    const pushed = await git(['--git-dir', later.gitdir, 'push', url, `${later.oid}:refs/heads/main`]);
    expect(pushed.status, pushed.stderr).toBe(0);

    // Pull refuses it, naming the event and the rule; Ada's ledger is left as it was.
    const adaBefore = await hashTree(path.join(dir('ada'), 'doc'));
    const refused = await c('ada', 'pull', url, '--json');
    expect(refused.code).not.toBe(0);
    const err = refused.errorJson().error;
    expect(err.code).toBe('COMMIT_REFUSED');
    expect(err.message).toContain(
      `commit ${later.oid} is refused: its event ${later.id} is not accepted: [AUTHOR_REMOVED]`
    );
    expect(err.message).toContain(`removed by event ${removalId}`);
    expect(await hashTree(path.join(dir('ada'), 'doc'))).toBe(adaBefore);
    // Clone refuses it too, and leaves nothing.
    const cloned = await run(['clone', url, '--ledger', dir('clone'), '--json']);
    expect(cloned.code).not.toBe(0);
    expect(cloned.errorJson().error.message).toContain('[AUTHOR_REMOVED]');
    expect(existsSync(dir('clone'))).toBe(false);
    // Stock git refuses it: dated after Grace's key's valid-before.
    const fetched = await git(['--git-dir', adaGit, 'fetch', url, 'main']);
    expect(fetched.status, fetched.stderr).toBe(0);
    const stock = await git(['--git-dir', adaGit, ...cfg, 'verify-commit', later.oid]);
    expect(stock.status).not.toBe(0);
    expect(stock.stderr).toMatch(/expired|No principal matched/);

    // Dated before the removal instead: stock git cannot tell (its date is the author's claim), the ledger can.
    const backdated = await forge(
      'grace',
      new Date(Date.parse(graceLedger.get(removalId)!.event.time) - 60_000),
      'Backdated'
    );
    expect(
      (await git(['--git-dir', backdated.gitdir, 'push', '--force', url, `${backdated.oid}:refs/heads/main`])).status
    ).toBe(0);
    expect((await git(['--git-dir', adaGit, 'fetch', url, 'main'])).status).toBe(0);
    expect((await git(['--git-dir', adaGit, ...cfg, 'verify-commit', backdated.oid])).status).toBe(0);
    const refused2 = await c('ada', 'pull', url, '--json');
    expect(refused2.code).not.toBe(0);
    expect(refused2.errorJson().error.message).toMatch(
      new RegExp(`its event ${backdated.id} is not accepted: \\[(TIME_BEFORE_PARENT|AUTHOR_REMOVED)\\]`)
    );
    expect(await hashTree(path.join(dir('ada'), 'doc'))).toBe(adaBefore);

    // A ledger that holds such an event anyway (written past every check): verify reports it, with where.
    await cp(dir('ada'), dir('ada-copy'), { recursive: true });
    const { store } = await DocStore.load(await FsStorage.open(dir('ada-copy')));
    await store.commit([
      [later.id, later.json],
      [sigKey(later.id), later.sig]
    ]);
    const bad = await c('ada-copy', 'verify', '--json');
    expect(bad.code).toBe(1);
    const problems = bad.json().problems as Array<{
      code: string;
      eventId?: string;
      location?: string;
      message: string;
    }>;
    expect(problems).toContainEqual(
      expect.objectContaining({ code: 'AUTHOR_REMOVED', eventId: later.id, location: `event ${later.id}` })
    );
    expect(problems.find((p) => p.eventId === later.id)!.message).toContain(`removed by event ${removalId}`);
    // The same in the mode that checks every signature one by one.
    const full = await c('ada-copy', 'verify', '--full', '--json');
    expect(full.code).toBe(1);
    expect(full.json().problems).toContainEqual(
      expect.objectContaining({ code: 'AUTHOR_REMOVED', eventId: later.id, location: `event ${later.id}` })
    );
  }, 240_000);
});
