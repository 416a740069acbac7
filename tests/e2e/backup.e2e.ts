/**
 * The complete backup (Settings → Back up everything) in real Chromium: made in one profile holding two policy
 * snapshots and a generation with a prompt, then
 *  - refused in a fresh profile with a wrong passphrase and as a damaged file (nothing changed: still the first
 *    screen), restored from the first screen with the right one: the policy diff shows (texts restored) and the
 *    asset's bundle reveals the prompt (vault restored); restored again into the same ledger: nothing to do;
 *  - refused in a profile holding another ledger, its events counted before and after: unchanged.
 */
import { test, expect, type Browser, type Page } from '@playwright/test';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHOTS, glb, recordGeneration, sha256, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });
test.setTimeout(180_000);

const PASS = 'correct horse battery';
const V1 =
  'Tripo Privacy Policy\n\nWe do not use your inputs to train our models.\n\nWe retain files for 30 days after deletion.';
const V2 =
  'Tripo Privacy Policy\n\nWe do not use your inputs to train our models.\n\nWe retain files for 180 days after deletion.';

async function fresh(
  browser: Browser
): Promise<{ page: Page; problems: { unexpected: () => string[] }; close: () => Promise<void> }> {
  const context = await browser.newContext({ baseURL: process.env.E2E_BASE_URL, acceptDownloads: true });
  const page = await context.newPage();
  const problems = watch(page);
  // The worker logs each refusal it answers (the wrong passphrase, the damaged file, the other ledger): expected.
  return {
    page,
    problems: { unexpected: () => problems.filter((p) => !p.startsWith('console: ledger worker: LedgerError')) },
    close: () => context.close()
  };
}

async function create(page: Page, member: string, ledger: string, passphrase?: string) {
  await page.goto('/');
  await page.getByLabel('Your name').fill(member);
  await page.getByLabel('Ledger name').fill(ledger);
  if (passphrase) await page.getByLabel('Key backup passphrase').fill(passphrase);
  await page.getByRole('button', { name: 'Create ledger' }).click();
  await expect(page.getByTestId('ledger-name')).toHaveText(ledger);
}

async function snapshot(page: Page, text: string, version: string) {
  await page.goto('/policies');
  const form = page.getByTestId('policy-form');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await form.getByLabel('Document', { exact: true }).selectOption('privacy-policy');
  await form.getByLabel('Version or “last updated”').fill(version);
  await form.getByLabel('Policy text', { exact: true }).fill(text);
  await form.getByRole('button', { name: 'Save snapshot' }).click();
  await expect(page.getByTestId('snapshot-view')).toContainText('Tripo');
}

const events = async (page: Page) => {
  await page.goto('/');
  const n = page.getByTestId('count-events');
  await expect(n).toBeVisible();
  return Number((await n.textContent())!.replace(/\D/g, ''));
};

test('a complete backup restores into a fresh profile (policy diff, prompt), refuses a wrong passphrase, a damaged file and another ledger', async ({
  browser
}) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-backup-'));
  const model = glb(64, 'backup');
  const hash = sha256(model);

  // Profile A: the ledger, two snapshots, a generation with a prompt; then the backup.
  const a = await fresh(browser);
  await create(a.page, 'Ada Artist', 'Brass Robot Studio', PASS);
  await snapshot(a.page, V1, '2026-01');
  await snapshot(a.page, V2, '2026-02');
  await recordGeneration(a.page, {
    platform: 'Tripo',
    modelVersion: 'v2.5',
    project: 'Robot Client',
    prompt: 'a small brass robot, low poly',
    files: [{ name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: model }]
  });
  const countA = await events(a.page);
  await a.page.goto('/settings');
  const card = a.page.getByTestId('full-backup');
  await card.getByLabel('Passphrase of your key backup').fill('not the passphrase');
  await card.getByRole('button', { name: 'Back up everything' }).click();
  await expect(card.getByTestId('full-backup-error')).toContainText('not the passphrase of this device’s key backup');
  await card.getByLabel('Passphrase of your key backup').fill(PASS);
  const downloading = a.page.waitForEvent('download');
  await card.getByRole('button', { name: 'Back up everything' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('Brass-Robot-Studio.backup.json');
  await expect(card.getByTestId('full-backup-ok')).toContainText(`${countA} events, 2 policy texts, 1 prompts`);
  await a.page.screenshot({ path: `${SHOTS}backup-01-made.png`, fullPage: true });
  const text = readFileSync((await download.path())!, 'utf8');
  const file = path.join(dir, 'studio.backup.json');
  writeFileSync(file, text);
  const backup = JSON.parse(text);
  expect(backup.format).toBe('provenance-ledger/backup/v1');
  expect(backup.counts).toEqual({ events: countA, texts: 2, prompts: 1 });
  expect(text).not.toContain('brass robot');
  expect(text).not.toContain('180 days');
  // A damaged copy: one character of the ciphertext changed.
  const i = Math.floor(backup.ciphertext.length / 2);
  const damaged = path.join(dir, 'damaged.backup.json');
  writeFileSync(
    damaged,
    JSON.stringify({
      ...backup,
      ciphertext:
        backup.ciphertext.slice(0, i) + (backup.ciphertext[i] === 'A' ? 'B' : 'A') + backup.ciphertext.slice(i + 1)
    })
  );
  const truncated = path.join(dir, 'truncated.backup.json');
  writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
  expect(a.problems.unexpected()).toEqual([]);
  await a.close();

  // Profile B: fresh. Wrong passphrase, damaged and truncated files refused, nothing changed; then restored.
  const b = await fresh(browser);
  await b.page.goto('/');
  await expect(b.page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  const restore = b.page.getByTestId('restore-backup');
  await restore.getByText('Restore from a backup').click();
  await restore.getByLabel('File of the complete backup').setInputFiles(file);
  await restore.getByLabel('Passphrase of the complete backup').fill('wrong horse battery');
  await restore.getByRole('button', { name: 'Restore from the backup' }).click();
  await expect(restore.getByTestId('full-restore-error')).toHaveText(
    'Wrong passphrase, or the backup file was altered. Nothing was changed.'
  );
  await b.page.screenshot({ path: `${SHOTS}backup-02-wrong-passphrase.png`, fullPage: true });
  await restore.getByLabel('File of the complete backup').setInputFiles(damaged);
  await restore.getByLabel('Passphrase of the complete backup').fill(PASS);
  await restore.getByRole('button', { name: 'Restore from the backup' }).click();
  await expect(restore.getByTestId('full-restore-error')).toHaveText(
    'Wrong passphrase, or the backup file was altered. Nothing was changed.'
  );
  await restore.getByLabel('File of the complete backup').setInputFiles(truncated);
  await restore.getByRole('button', { name: 'Restore from the backup' }).click();
  await expect(restore.getByTestId('full-restore-error')).toContainText('not JSON');
  await expect(restore.getByTestId('full-restore-error')).toContainText('Nothing was changed.');
  await b.page.reload();
  await expect(b.page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();

  await restore.getByText('Restore from a backup').click();
  await restore.getByLabel('File of the complete backup').setInputFiles(file);
  await restore.getByLabel('Passphrase of the complete backup').fill(PASS);
  await restore.getByRole('button', { name: 'Restore from the backup' }).click();
  await expect(b.page.getByTestId('ledger-name')).toHaveText('Brass Robot Studio');
  expect(await events(b.page)).toBe(countA);
  await b.page.screenshot({ path: `${SHOTS}backup-03-restored.png`, fullPage: true });

  // The policy diff works: both texts are here.
  await b.page.goto('/policies');
  await b.page.getByTestId('snapshot-link').first().click();
  const view = b.page.getByTestId('snapshot-view');
  await expect(view).toContainText('Compared with');
  await expect(view.getByTestId('policy-diff').getByTestId('added').first()).toContainText('180');
  await b.page.screenshot({ path: `${SHOTS}backup-04-policy-diff.png`, fullPage: true });
  // The prompt can be revealed: the vault is here.
  await b.page.goto(`/asset/${hash}`);
  const bundle = b.page.getByTestId('asset-bundle');
  await bundle.getByTestId('bundle-reveal').check();
  const bundleDownload = b.page.waitForEvent('download');
  await bundle.getByTestId('export-bundle').click();
  const bundleText = readFileSync((await (await bundleDownload).path())!, 'utf8');
  await expect(bundle.getByTestId('bundle-exported')).toContainText('1 prompt revealed');
  expect(bundleText).toContain('a small brass robot, low poly');
  // The key came too: this device signs as Ada, and its key backup is there.
  await b.page.goto('/settings');
  await expect(b.page.getByTestId('identity-name')).toHaveText('Ada Artist');
  // Restoring the same backup again: nothing to do.
  const again = b.page.getByTestId('full-backup');
  await again.getByLabel('File of the complete backup').setInputFiles(file);
  await again.getByLabel('Passphrase of the complete backup').fill(PASS);
  await again.getByRole('button', { name: 'Restore from the backup' }).click();
  await expect(again.getByTestId('full-restore-ok')).toContainText('Nothing to do');
  expect(await events(b.page)).toBe(countA);
  expect(b.problems.unexpected()).toEqual([]);
  await b.close();

  // Profile C: holds another ledger. Refused, nothing changed.
  const c = await fresh(browser);
  await create(c.page, 'Grace', 'Other Studio');
  const before = await events(c.page);
  await c.page.goto('/settings');
  const other = c.page.getByTestId('full-backup');
  await other.getByLabel('File of the complete backup').setInputFiles(file);
  await other.getByLabel('Passphrase of the complete backup').fill(PASS);
  await other.getByRole('button', { name: 'Restore from the backup' }).click();
  await expect(other.getByTestId('full-restore-error')).toContainText(
    'This browser already holds the ledger “Other Studio”; the backup is of “Brass Robot Studio”'
  );
  await expect(other.getByTestId('full-restore-error')).toContainText('Nothing was changed.');
  await c.page.screenshot({ path: `${SHOTS}backup-05-other-ledger-refused.png`, fullPage: true });
  await expect(c.page.getByTestId('identity-name')).toHaveText('Grace');
  expect(await events(c.page)).toBe(before);
  await expect(c.page.getByTestId('ledger-name')).toHaveText('Other Studio');
  expect(c.problems.unexpected()).toEqual([]);
  await c.close();
});
