/**
 * Settings in real Chromium: identity and fingerprint; key backup made at creation, downloaded, restored in a
 * fresh browser (same fingerprint); a wrong passphrase refused with nothing changed; a key made without a
 * passphrase says plainly it cannot be backed up; the vault passphrase; ledger export, import on a new
 * device, and a corrupt file refused with nothing changed.
 */
import { test, expect, type Page } from '@playwright/test';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PASSPHRASE, SHOTS, restoreAndImport, seed, watch } from './support/app.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

async function create(page: Page, passphrase?: string) {
  await page.goto('/');
  await page.getByLabel('Your name').fill('Ada Artist');
  await page.getByLabel('Ledger name').fill('Studio Nord');
  if (passphrase) await page.getByLabel(/Key backup passphrase/).fill(passphrase);
  await page.getByRole('button', { name: 'Create ledger' }).click();
  await expect(page.getByTestId('ledger-name')).toHaveText('Studio Nord', { timeout: 30_000 });
}

test('key backup at creation, download, restore elsewhere; wrong passphrase changes nothing', async ({
  page,
  browser
}) => {
  const problems = watch(page);
  await create(page, 'a long backup passphrase');
  await page.goto('/settings');
  await expect(page.getByTestId('identity-name')).toHaveText('Ada Artist');
  const fingerprint = (await page.getByTestId('fingerprint').textContent())!.trim();
  expect(fingerprint.replace(/ /g, '')).toMatch(/^[0-9a-f]{16}$/);
  await page.screenshot({ path: `${SHOTS}settings.png`, fullPage: true });
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download encrypted key backup' }).click()
  ]);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'pl-key-')), dl.suggestedFilename());
  await dl.saveAs(file);
  const backup = JSON.parse(readFileSync(file, 'utf8'));
  expect(backup.format).toBe('provenance-ledger/key-backup/v1');
  expect(JSON.stringify(backup)).not.toContain('PRIVATE');

  // A fresh browser profile: wrong passphrase first, then the right one.
  const other = await browser.newContext({ baseURL: process.env.E2E_BASE_URL });
  const p2 = await other.newPage();
  await p2.goto('/settings');
  await expect(p2.getByTestId('identity')).toContainText('no signing key yet');
  await p2.getByLabel('Key backup file').setInputFiles(file);
  await p2.getByLabel('Backup passphrase').fill('not the passphrase');
  await p2.getByRole('button', { name: 'Restore key' }).click();
  await expect(p2.getByTestId('restore-error')).toContainText('Wrong passphrase', { timeout: 30_000 });
  await expect(p2.getByTestId('identity')).toContainText('no signing key yet');
  await p2.screenshot({ path: `${SHOTS}settings-wrong-passphrase.png`, fullPage: true });
  await p2.getByLabel('Backup passphrase').fill('a long backup passphrase');
  await p2.getByRole('button', { name: 'Restore key' }).click();
  await expect(p2.getByTestId('restore-ok')).toContainText('Key restored', { timeout: 30_000 });
  await expect(p2.getByTestId('fingerprint')).toHaveText(fingerprint);
  await other.close();
  expect(problems).toEqual([]);
});

test('a key made without a passphrase says plainly that it cannot be backed up', async ({ page }) => {
  await create(page);
  await page.goto('/settings');
  await expect(page.getByTestId('no-backup')).toContainText('no backup can be made');
});

test('vault passphrase: set, lock, wrong and right unlock', async ({ page }) => {
  await create(page);
  await page.goto('/settings');
  const vault = page.getByTestId('vault');
  await expect(vault.getByTestId('vault-status')).toContainText('Not encrypted');
  await vault.getByLabel('Passphrase', { exact: true }).fill('vault passphrase 1');
  await vault.getByLabel('Repeat it').fill('vault passphrase 1');
  await vault.getByRole('button', { name: 'Encrypt the vault' }).click();
  await expect(vault.getByTestId('vault-status')).toContainText('Unlocked', { timeout: 30_000 });
  await vault.getByRole('button', { name: 'Lock now' }).click();
  await expect(vault.getByTestId('vault-status')).toContainText('Locked');
  await vault.getByLabel('Vault passphrase').fill('wrong passphrase');
  await vault.getByRole('button', { name: 'Unlock' }).click();
  await expect(vault.getByTestId('vault-error')).toContainText('Wrong vault passphrase');
  await vault.getByLabel('Vault passphrase').fill('vault passphrase 1');
  await vault.getByRole('button', { name: 'Unlock' }).click();
  await expect(vault.getByTestId('vault-status')).toContainText('Unlocked', { timeout: 30_000 });
});

test('ledger export, import on a new device, corrupt file refused with nothing changed', async ({ page, browser }) => {
  const s = seed({ events: 5 });
  // A corrupt file first: nothing may change (the device stays empty).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-imp-'));
  const corrupt = path.join(dir, 'corrupt.jsonl');
  writeFileSync(corrupt, readFileSync(s.ledger, 'utf8').replace('"project\\":\\"Atlas', '"project\\":\\"Atlas2'));
  await page.goto('/settings');
  await page.getByTestId('import-file').setInputFiles(corrupt);
  await expect(page.getByTestId('import-error')).toContainText('nothing was imported', { timeout: 30_000 });
  await expect(page.getByTestId('import-error')).toContainText('ID_MISMATCH');
  const junk = path.join(dir, 'junk.jsonl');
  writeFileSync(junk, 'hello\n');
  await page.getByTestId('import-file').setInputFiles(junk);
  await expect(page.getByTestId('import-error')).toContainText('not a ledger export');
  await page.screenshot({ path: `${SHOTS}settings-import-refused.png`, fullPage: true });
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();

  await restoreAndImport(page, s);
  await page.goto('/settings');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-ledger').click()]);
  const exported = path.join(dir, dl.suggestedFilename());
  await dl.saveAs(exported);
  const lines = readFileSync(exported, 'utf8').trim().split('\n');
  expect(JSON.parse(lines[0])).toMatchObject({
    format: 'provenance-ledger/export/v2',
    events: 5,
    signatures: 5,
    ledgerName: 'Studio Nord'
  });
  expect(lines).toHaveLength(11); // the manifest, then each event followed by its journal signature (<id>.git)

  // The export imports on another device, read-only without the key.
  const other = await browser.newContext({ baseURL: process.env.E2E_BASE_URL });
  const p2 = await other.newPage();
  await p2.goto('/settings');
  await p2.getByTestId('import-file').setInputFiles(exported);
  await expect(p2.getByTestId('import-ok')).toContainText('5 new events', { timeout: 30_000 });
  await expect(p2.getByTestId('ledger-name')).toHaveText('Studio Nord');
  await other.close();
  void PASSPHRASE;
});
