/**
 * The Git journal in the browser (issue 3), in real Chromium with real IndexedDB:
 * - events imported and appended in the web app become signed commits in IndexedDB (the ledger worker writes
 *   them behind the appends); the IndexedDB journal, copied out byte for byte, is a repository stock git reads
 *   (fsck --strict, verify-commit with the ledger's allowed signers), and its commit ids are the ones the
 *   CLI's core computes for the same events from the exported ledger;
 * - Settings shows the journal's state, pushes it to a Git smart-HTTP remote (a real `git http-backend` that
 *   answers CORS), the CLI clones that remote into a verifying ledger with the same head, appends, pushes, and
 *   the web app pulls the CLI's event (checked) back.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PASSPHRASE, ROOT, SHOTS, restoreAndImport, seed, watch } from './support/app.ts';
import { glb, recordGeneration } from './flows.ts';
import { startGitServer, type GitServer } from '../helpers/git-http-server.ts';

const run = promisify(execFile);

test.use({ baseURL: process.env.E2E_BASE_URL });

/** Stock git; a failure carries what git printed on both streams (fsck reports missing objects on stdout). */
const git = (gitdir: string, ...args: string[]): string => {
  try {
    return execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`git ${args.join(' ')} failed in ${gitdir}:\n${stdout ?? ''}${stderr ?? ''}`, { cause: e });
  }
};
/** The CLI, run without blocking this process (the Git server the test started answers from it). */
const cli = async (args: string[], env: Record<string, string> = {}): Promise<string> =>
  (
    await run(process.execPath, [path.join(ROOT, 'bin/provenance-ledger.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...env }
    })
  ).stdout;

/** Copies the worker's IndexedDB file system (database provenance-ledger-git) into a directory on disk. */
async function dumpJournal(page: Page, dir: string): Promise<void> {
  const files = await page.evaluate(async () => {
    const db: IDBDatabase = await new Promise((res, rej) => {
      const r = indexedDB.open('provenance-ledger-git');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const out: Array<[string, string | null]> = [];
    await new Promise<void>((res, rej) => {
      const tx = db.transaction('files', 'readonly');
      const req = tx.objectStore('files').openCursor();
      req.onsuccess = () => {
        const c = req.result;
        if (!c) return res();
        const v = c.value as { dir?: true; data?: Uint8Array };
        let b64: string | null = null;
        if (!v.dir && v.data) {
          let s = '';
          for (let i = 0; i < v.data.length; i += 0x8000) s += String.fromCharCode(...v.data.subarray(i, i + 0x8000));
          b64 = btoa(s);
        }
        out.push([String(c.key), b64]);
        c.continue();
      };
      req.onerror = () => rej(req.error);
      tx.onerror = () => rej(tx.error);
    });
    db.close();
    return out;
  });
  for (const [p, b64] of files.sort(([a], [b]) => a.length - b.length)) {
    const target = path.join(dir, p);
    if (b64 === null) mkdirSync(target, { recursive: true });
    else writeFileSync(target, Buffer.from(b64, 'base64'));
  }
}

let server: GitServer;
test.beforeAll(async () => {
  server = await startGitServer({ cors: true });
});
test.afterAll(async () => {
  await server?.close();
});

test('appends become commits in IndexedDB with the CLI’s commit ids; push, CLI clone, pull from Settings', async ({
  page
}) => {
  test.setTimeout(180_000);
  const problems = watch(page);
  const s = seed({ events: 8 });
  await restoreAndImport(page, s); // 8 events received
  await recordGeneration(page, {
    platform: 'Tripo',
    project: 'Journal',
    files: [{ name: 'one.glb', mimeType: 'model/gltf-binary', buffer: glb(16, 'one') }]
  });
  await recordGeneration(page, {
    platform: 'Meshy',
    project: 'Journal',
    files: [{ name: 'two.glb', mimeType: 'model/gltf-binary', buffer: glb(32, 'two') }]
  });

  // Settings shows the journal once the worker has written every commit (it writes behind the appends).
  await page.goto('/settings');
  const panel = page.getByTestId('journal');
  await expect(panel.getByTestId('journal-commits')).toHaveText('10', { timeout: 30_000 });
  await expect(panel.getByTestId('journal-events')).toHaveText('10');
  await expect(panel.getByTestId('journal-head')).toHaveText(/^[0-9a-f]{40}$/);
  const head = (await panel.getByTestId('journal-head').textContent())!.trim();
  await panel.getByTestId('journal-check').click();
  await expect(panel.getByTestId('journal-check-result')).toContainText('Every object is intact');

  // The journal in IndexedDB, copied out: a repository stock git reads, whose commits are the CLI's.
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-journal-e2e-'));
  await dumpJournal(page, path.join(tmp, 'idb'));
  const idbGit = path.join(tmp, 'idb', 'journal.git');
  git(idbGit, 'fsck', '--strict');
  expect(git(idbGit, 'rev-parse', 'refs/heads/main').trim()).toBe(head);
  expect(git(idbGit, 'rev-list', '--count', 'main').trim()).toBe('10');
  const inIdb = new Map(
    git(idbGit, 'log', '--format=%H %(trailers:key=Event-Id,valueonly,separator=)', 'main')
      .trim()
      .split('\n')
      .map((l) => l.split(' ').reverse() as [string, string])
  );
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-ledger').click()]);
  const exported = path.join(tmp, 'ledger.jsonl');
  await dl.saveAs(exported);
  const computed = JSON.parse(
    execFileSync(process.execPath, ['tests/e2e/support/journal-ids.ts', exported], { cwd: ROOT, encoding: 'utf8' })
  ) as Record<string, string>;
  expect(Object.keys(computed)).toHaveLength(10);
  for (const [eventId, oid] of Object.entries(computed))
    expect(inIdb.get(eventId), `commit of event ${eventId}`).toBe(oid);

  // Push a readable journal from Settings to a Git remote (CORS allowed by the host); sealed-journal.e2e.ts pushes
  // the sealed one.
  server.createRepo('web.git');
  const url = server.url('web.git');
  await panel.getByLabel('Remote (Git smart-HTTP address)').fill(url);
  await panel.getByTestId('journal-readable').check();
  await panel.getByTestId('journal-push').click();
  await expect(panel.getByTestId('journal-ok')).toContainText(
    `Pushed a readable journal: the remote’s main is ${head.slice(0, 12)}`,
    { timeout: 60_000 }
  );
  await expect(panel.getByTestId('journal-remote')).toHaveText(`${url}: readable (the host can read every event)`);
  await expect(panel.getByTestId('journal-last-push')).toContainText(url);
  await panel.screenshot({ path: `${SHOTS}settings-journal.png` });
  const bare = path.join(server.root, 'web.git');
  expect(git(bare, 'rev-parse', 'main').trim()).toBe(head);
  git(bare, 'fsck', '--strict');

  // The CLI clones it into a verifying ledger with the same head; stock git verifies every commit's signature.
  const dir = path.join(tmp, 'cli');
  await cli(['clone', url, '--ledger', dir]);
  expect(git(path.join(dir, 'journal.git'), 'rev-parse', 'main').trim()).toBe(head);
  expect(JSON.parse(await cli(['verify', '--ledger', dir, '--json'])).ok).toBe(true);
  const signers = path.join(tmp, 'allowed_signers');
  writeFileSync(signers, JSON.parse(await cli(['allowed-signers', '--ledger', dir, '--json'])).allowedSigners);
  for (const oid of inIdb.values()) {
    execFileSync(
      'git',
      [
        '--git-dir',
        idbGit,
        '-c',
        'gpg.format=ssh',
        '-c',
        `gpg.ssh.allowedSignersFile=${signers}`,
        'verify-commit',
        oid
      ],
      { stdio: 'pipe' }
    );
  }

  // The CLI appends with the same member's key and pushes; the web app pulls it back, every commit checked.
  await cli(['key', 'import', s.backup, '--ledger', dir], { PROVENANCE_LEDGER_PASSPHRASE: PASSPHRASE });
  const out = path.join(tmp, 'three.glb');
  writeFileSync(out, glb(48, 'three'));
  await cli([
    'record',
    'generation',
    '--ledger',
    dir,
    '--platform',
    'Rodin',
    '--project',
    'Journal',
    '--mode',
    'text-to-3d',
    '--classification',
    'confidential',
    '--prompt',
    'a bronze robot',
    '--output',
    out
  ]);
  await cli(['push', url, '--plain', '--ledger', dir]);
  const cliHead = git(bare, 'rev-parse', 'main').trim();
  expect(cliHead).not.toBe(head);
  await panel.getByTestId('journal-pull').click();
  await expect(panel.getByTestId('journal-ok')).toContainText('Pulled 1 new event', { timeout: 60_000 });
  await expect(panel.getByTestId('journal-commits')).toHaveText('11');
  await expect(panel.getByTestId('journal-head')).toHaveText(cliHead);
  expect(problems).toEqual([]);
});
