/**
 * The Verify page in real Chromium: a known file dropped shows its provenance, an unknown one "not in this
 * ledger"; the whole-ledger report says OK on a good ledger and, on a ledger holding an event altered after
 * signing, names the problem with its code, event id and location.
 */
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeBoxFixtures } from './support/gltf-fixtures.ts';
import { SHOTS, loadChunks, restoreAndImport, seed, watch } from './support/app.ts';

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
