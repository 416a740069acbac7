/**
 * Evidence bundles in real Chromium: a generation recorded with a file, its bundle exported from the asset page
 * (built in the worker by the core's buildBundle over the device log; unwitnessed, as no teammate cosigned), then
 * checked on the Verify page with the file (valid; the report names the file and the platform), and a copy with
 * one byte of a hash changed is rejected with a named failure.
 */
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { SHOTS, createLedger, glb, recordGeneration, sha256, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

test('bundle: export from the asset page, verify with the file, a tampered copy is rejected', async ({ page }) => {
  const problems = watch(page);
  await createLedger(page);
  const model = glb(64, 'bundle');
  const hash = sha256(model);
  await recordGeneration(page, {
    platform: 'Meshy',
    modelVersion: 'v4',
    project: 'Bundles',
    prompt: 'a small brass owl',
    files: [{ name: 'owl.glb', mimeType: 'model/gltf-binary', buffer: model }]
  });

  await page.goto(`/asset/${hash}`);
  await expect(page.getByTestId('asset-title')).toHaveText('owl.glb');
  const card = page.getByTestId('asset-bundle');
  await card.getByTestId('bundle-reveal').check();
  const downloading = page.waitForEvent('download');
  await card.getByTestId('export-bundle').click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/\.bundle\.json$/);
  await expect(card.getByTestId('bundle-unwitnessed')).toContainText('Not witnessed');
  await expect(card.getByTestId('bundle-exported')).toContainText('1 prompt revealed');
  const text = readFileSync((await download.path())!, 'utf8');
  const bundle = JSON.parse(text);
  expect(bundle.format).toBe('provenance-ledger/bundle/v2');
  expect(bundle.subject).toEqual({ sha256: hash, name: 'owl.glb' });

  // Verified on the Verify page, with the file.
  await page.goto('/verify');
  await page
    .locator('#bundle-file')
    .setInputFiles({ name: 'owl.bundle.json', mimeType: 'application/json', buffer: Buffer.from(text) });
  await page.locator('#bundle-files').setInputFiles({ name: 'owl.glb', mimeType: 'model/gltf-binary', buffer: model });
  await page.getByTestId('verify-bundle').click();
  await expect(page.getByTestId('bundle-valid')).toContainText('Bundle valid');
  const report = page.getByTestId('bundle-report');
  await expect(report).toContainText(`owl.glb (sha256 ${hash}) was recorded as output of a generation on Meshy`);
  await expect(report).toContainText('Ada Artist');
  await expect(report).toContainText('"a small brass owl"');
  await expect(report).toContainText('No teammate cosigned this checkpoint.');
  await expect(report).toContainText('No trusted time-stamp covers these events');
  await expect(report).toContainText(`owl.glb hashes to sha256 ${hash}, a file the bundle names.`);
  await expect(page.getByTestId('bundle-file-check')).toHaveAttribute('data-matches', 'true');
  await page.screenshot({ path: `${SHOTS}bundle-valid.png`, fullPage: true });

  // One byte of a hash changed (the first character of the first event's first inclusion-proof hash, or of the
  // checkpoint's root hash when the proof is empty): rejected, the failure named.
  const tampered = structuredClone(bundle);
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  const withProof = tampered.events.findIndex((e: { proof: string[] }) => e.proof.length > 0);
  expect(withProof).toBeGreaterThanOrEqual(0);
  tampered.events[withProof].proof[0] = flip(tampered.events[withProof].proof[0]);
  await page.locator('#bundle-file').setInputFiles({
    name: 'owl-tampered.bundle.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(tampered))
  });
  await page.getByTestId('verify-bundle').click();
  await expect(page.getByTestId('bundle-invalid')).toContainText('Bundle invalid');
  await expect(page.getByTestId('bundle-failure').first()).toHaveAttribute('data-code', 'INCLUSION_PROOF_INVALID');
  await expect(page.getByTestId('bundle-failure').first()).toContainText('INCLUSION_PROOF_INVALID');
  await expect(page.getByTestId('bundle-report')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}bundle-tampered.png`, fullPage: true });
  expect(problems).toEqual([]);
});
