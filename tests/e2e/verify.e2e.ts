/**
 * The Verify page in real Chromium: a known file dropped shows its provenance, an unknown one "not in this
 * ledger"; the whole-ledger report says OK on a good ledger and, on a ledger holding an event altered after
 * signing, names the problem with its code, event id and location. Evidence bundles are checked without any
 * ledger: a first-time visitor (a fresh profile) reaches the page from the first screen and checks the worked
 * example bundle; a valid bundle with a file it does not name stays valid, the file reported apart.
 */
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeBoxFixtures } from './support/gltf-fixtures.ts';
import { SHOTS, loadChunks, restoreAndImport, seed, watch } from './support/app.ts';
import { example, namesFile, stranger, strangerSha256 } from './support/example-bundle.ts';
import { audit } from './support/axe.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

test('verify: a known and an unknown file; the whole ledger', async ({ page }) => {
  const problems = watch(page);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-verify-'));
  const box = await writeBoxFixtures(dir);
  const s = seed({ outputs: [box.glb] });
  await restoreAndImport(page, s);

  await page.goto('/verify');
  const unknown = path.join(dir, 'stranger <img src=x onerror=alert(1)>.glb');
  writeFileSync(unknown, 'not in any ledger');
  await page.locator('#verify-files').setInputFiles([box.glb, unknown]);
  const results = page.getByTestId('verify-result');
  await expect(results).toHaveCount(2);
  await expect(results.nth(0)).toHaveAttribute('data-known', 'true');
  await expect(results.nth(0)).toContainText('Recorded');
  await expect(results.nth(0)).toContainText(s.outputs[0].sha256);
  await expect(results.nth(1)).toHaveAttribute('data-known', 'false');
  await expect(results.nth(1)).toContainText('Not in this ledger');
  await expect(results.nth(1)).toContainText('stranger <img src=x onerror=alert(1)>.glb');

  await page.getByTestId('verify-ledger').click();
  await expect(page.getByTestId('report-ok')).toContainText('2 events checked');
  await page.screenshot({ path: `${SHOTS}verify.png`, fullPage: true });

  await results.nth(0).getByRole('link', { name: 'Open its chain of custody' }).click();
  await expect(page.getByTestId('asset-title')).toHaveText('box.glb');
  expect(problems).toEqual([]);
});

test('verify: a tampered event is reported with its code, id and location', async ({ page }) => {
  const s = seed({ outputs: [], events: 3, chunks: true, tamper: true });
  await page.goto('/verify');
  await loadChunks(page, s);
  await page.getByTestId('verify-ledger').click();
  const bad = page.locator(`[data-testid="report-event"][data-event="${s.tampered}"]`);
  await expect(bad).toBeVisible();
  await expect(bad.getByTestId('problem').first()).toContainText('ID_MISMATCH');
  await expect(bad).toContainText(`event ${s.tampered}`);
  await page.screenshot({ path: `${SHOTS}verify-problems.png`, fullPage: true });
});

test('verify: a first-time visitor, with no ledger, checks an evidence bundle', async ({ page }) => {
  const problems = watch(page);
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  await page.getByRole('link', { name: 'Verify an evidence bundle' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole('heading', { name: 'Verify', level: 1 })).toBeVisible();
  // No ledger on this device: the ledger's own checks are not offered, the bundle check is.
  await expect(page.getByTestId('verify-no-ledger')).toContainText('This device has no ledger');
  await expect(page.getByTestId('verify-ledger')).toHaveCount(0);

  await page.locator('#bundle-file').setInputFiles(example.bundlePath);
  await page.locator('#bundle-files').setInputFiles(example.filePath);
  await page.getByTestId('verify-bundle').click();
  await expect(page.getByTestId('bundle-valid')).toContainText('Bundle valid');
  await expect(page.getByTestId('bundle-verdict')).toHaveAttribute('data-ok', 'true');
  const report = page.getByTestId('bundle-report');
  for (const line of example.reportLines) await expect(report).toContainText(line);
  await expect(report).toContainText(namesFile('model.glb', example.sha256));
  await expect(page.getByTestId('bundle-file-check')).toHaveAttribute('data-matches', 'true');
  await expect(page.getByTestId('bundle-invalid')).toHaveCount(0);
  await expect(page.getByTestId('bundle-file-mismatch')).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Download the offline verifier' })).toHaveAttribute(
    'href',
    '/verify-offline.html'
  );
  await page.screenshot({ path: `${SHOTS}verify-bundle-no-ledger.png`, fullPage: true });

  // Checking created nothing: the first screen still offers to create a ledger.
  await page.getByRole('link', { name: 'Create your ledger' }).click();
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  expect(problems).toEqual([]);
});

test('verify: a valid bundle with a file it does not name is valid, and the file is not the one it is about', async ({
  page
}) => {
  const problems = watch(page);
  await page.goto('/verify');
  await page.locator('#bundle-file').setInputFiles(example.bundlePath);
  await page
    .locator('#bundle-files')
    .setInputFiles({ name: stranger.name, mimeType: 'model/gltf-binary', buffer: stranger.buffer });
  await page.getByTestId('verify-bundle').click();

  // The bundle: valid, its statements stand.
  await expect(page.getByTestId('bundle-valid')).toContainText('Bundle valid');
  await expect(page.getByTestId('bundle-invalid')).toHaveCount(0);
  await expect(page.getByTestId('bundle-result')).not.toContainText('invalid');
  await expect(page.getByTestId('bundle-report')).toContainText(example.reportLines[0]);
  // The file, apart: named, with its hash, not a file the bundle names; the code stays visible.
  const mismatch = page.getByTestId('bundle-file-mismatch');
  await expect(mismatch).toContainText('The file given is not the file this bundle is about.');
  const finding = mismatch.getByTestId('bundle-file-failure');
  await expect(finding).toHaveCount(1);
  await expect(finding).toHaveAttribute('data-code', 'FILE_NOT_IN_BUNDLE');
  await expect(finding).toContainText('FILE_NOT_IN_BUNDLE');
  await expect(finding).toContainText(stranger.name);
  await expect(finding).toContainText(strangerSha256);
  await expect(finding).toContainText('not the file the bundle is about');
  await expect(page.getByTestId('bundle-codes')).toHaveText('Codes: FILE_NOT_IN_BUNDLE');
  await expect(page.getByTestId('bundle-verdict')).toHaveAttribute('data-bundle-ok', 'true');
  await expect(page.getByTestId('bundle-verdict')).toHaveAttribute('data-ok', 'false');
  await expect(page.getByTestId('bundle-file-check')).toHaveAttribute('data-matches', 'false');
  await expect(page.getByTestId('bundle-report')).not.toContainText(strangerSha256);
  expect(await audit(page)).toEqual([]);
  await page.screenshot({ path: `${SHOTS}verify-bundle-wrong-file.png`, fullPage: true });
  expect(problems).toEqual([]);
});
