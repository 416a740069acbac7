/**
 * The sealed journal in real Chromium with real IndexedDB: the Settings journal panel pushes a sealed journal to
 * a real `git http-backend` (CORS allowed); the host holds no project, file, platform, member or ledger name,
 * stock git verifies every commit with the archive key's allowed-signers file and fsck --strict is clean; another
 * browser restores the key backup (which carries the team key) and clones the ledger from the remote in Settings,
 * with the same head.
 */
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PASSPHRASE, ROOT, restoreAndImport, seed, watch } from './support/app.ts';
import { glb, recordGeneration } from './flows.ts';
import { startGitServer, type GitServer } from '../helpers/git-http-server.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

const git = (gitdir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', gitdir, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 26
  });

let server: GitServer;
test.beforeAll(async () => {
  server = await startGitServer({ cors: true });
});
test.afterAll(async () => {
  await server?.close();
});

test('Settings pushes a sealed journal; another browser restores the key backup and clones it', async ({
  page,
  browser
}) => {
  test.setTimeout(180_000);
  const problems = watch(page);
  const s = seed({ events: 6 });
  // The owner's key backup with the team key (as `key export` writes it), and the archive key's signer line.
  const backup = path.join(s.dir, 'key-backup-with-team-key.json');
  const made = JSON.parse(
    execFileSync(process.execPath, ['tests/e2e/support/team-key-backup.ts', s.backup, backup], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, PROVENANCE_LEDGER_PASSPHRASE: PASSPHRASE }
    })
  ) as { allowedSigners: string };
  await restoreAndImport(page, { ...s, backup });
  await recordGeneration(page, {
    platform: 'Tripo',
    project: 'Nondisclosure Robots',
    files: [{ name: 'secret-robot.glb', mimeType: 'model/gltf-binary', buffer: glb(24, 'secret') }]
  });

  await page.goto('/settings');
  const panel = page.getByTestId('journal');
  await expect(panel.getByTestId('journal-commits')).toHaveText('7', { timeout: 30_000 });
  const head = (await panel.getByTestId('journal-head').textContent())!.trim();
  server.createRepo('sealed-web.git');
  const url = server.url('sealed-web.git');
  await panel.getByLabel('Remote (Git smart-HTTP address)').fill(url);
  await expect(panel.getByTestId('journal-readable')).not.toBeChecked();
  await panel.getByTestId('journal-push').click();
  await expect(panel.getByTestId('journal-ok')).toContainText('Pushed the sealed journal', { timeout: 60_000 });
  await expect(panel.getByTestId('journal-remote')).toHaveText(`${url}: sealed (the host holds ciphertext only)`);

  // What the host holds: no name of anything.
  const bare = path.join(server.root, 'sealed-web.git');
  expect(git(bare, 'rev-list', '--count', 'main').trim()).toBe('7');
  const objects = execFileSync('git', ['--git-dir', bare, 'cat-file', '--batch-all-objects', '--batch'], {
    maxBuffer: 1 << 26
  });
  for (const secret of [
    'Nondisclosure Robots',
    'secret-robot.glb',
    'Tripo',
    'Meshy',
    'Harbor',
    'Ada Artist',
    'Studio Nord',
    'generation'
  ]) {
    expect(objects.includes(Buffer.from(secret)), `the host holds "${secret}"`).toBe(false);
  }
  // Stock git verifies every commit with the archive key; fsck --strict is clean.
  const signers = path.join(s.dir, 'sealed-signers');
  writeFileSync(signers, made.allowedSigners);
  for (const c of git(bare, 'rev-list', 'main').trim().split('\n'))
    git(bare, '-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', c);
  git(bare, 'fsck', '--strict');

  // Another browser: the key backup restored (device key and team key), then a clone from the remote in Settings.
  const other = await browser.newContext({ baseURL: process.env.E2E_BASE_URL });
  const page2 = await other.newPage();
  const problems2 = watch(page2);
  await page2.goto('/settings');
  await page2.getByLabel('Key backup file').setInputFiles(backup);
  await page2.getByLabel('Backup passphrase').fill(PASSPHRASE);
  await page2.getByRole('button', { name: 'Restore key' }).click();
  await expect(page2.getByTestId('restore-ok')).toContainText('Key restored', { timeout: 30_000 });
  const panel2 = page2.getByTestId('journal');
  await panel2.getByLabel('Remote (Git smart-HTTP address)').fill(url);
  await panel2.getByTestId('journal-pull').click();
  await expect(panel2.getByTestId('journal-ok')).toContainText('Cloned the ledger from the remote: 7 events', {
    timeout: 60_000
  });
  await expect(page2.getByTestId('ledger-name')).toHaveText('Studio Nord');
  await expect(panel2.getByTestId('journal-head')).toHaveText(head, { timeout: 30_000 });
  await expect(panel2.getByTestId('journal-remote')).toHaveText(`${url}: sealed (the host holds ciphertext only)`);
  await other.close();
  expect(problems).toEqual([]);
  expect(problems2).toEqual([]);
});
