/**
 * The asset page in real Chromium: the chain of custody as a timeline, files with hashes, the 3D preview of
 * the user's local GLB and glTF (+ .bin + .png) after a hash match (a rendered, non-blank canvas), glTF
 * metadata checked against a box made with @gltf-transform/core, a changed file refused, and the export,
 * derivation, handoff and deletion forms.
 */
import { test, expect } from '@playwright/test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BOX, writeBoxFixtures } from './support/gltf-fixtures.ts';
import { SHOTS, canvasStats, restoreAndImport, seed, watch } from './support/app.ts';

test.use({
  baseURL: process.env.E2E_BASE_URL,
  // Headless Chromium without a GPU renders WebGL in software (SwiftShader).
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader', '--no-first-run']
  }
});

test('asset: timeline, files, 3D preview of GLB and glTF, metadata, custody forms', async ({ page }) => {
  test.setTimeout(120_000);
  const problems = watch(page);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-box-'));
  const box = await writeBoxFixtures(dir);
  const s = seed({ outputs: [box.glb, box.gltf, box.bin, box.png] });
  await restoreAndImport(page, s);

  // The assets list, then the asset.
  await page.goto('/asset');
  await expect(page.getByTestId('assets').getByRole('listitem')).toHaveCount(1);
  await page.screenshot({ path: `${SHOTS}asset-list.png`, fullPage: true });
  await page.getByRole('link', { name: 'box.glb' }).click();
  await expect(page.getByTestId('asset-title')).toHaveText('box.glb');
  await expect(page.getByTestId('step')).toHaveCount(1);
  await expect(page.getByTestId('cloud-status')).toContainText('Still on the platform');
  for (const o of s.outputs)
    await expect(page.locator(`[data-testid="asset-file"][data-sha256="${o.sha256}"]`)).toContainText(o.sha256);

  // A changed GLB is refused: its hash matches nothing recorded.
  const changed = path.join(dir, 'changed', 'box.glb');
  const bytes = readFileSync(box.glb);
  bytes[bytes.length - 1] ^= 0xff;
  (await import('node:fs')).mkdirSync(path.dirname(changed), { recursive: true });
  writeFileSync(changed, bytes);
  await page.locator('#preview-files').setInputFiles(changed);
  await expect(page.getByTestId('preview-error')).toContainText('does not match');

  // The recorded GLB: rendered and read.
  await page.locator('#preview-files').setInputFiles(box.glb);
  await expect(page.getByTestId('preview-match')).toBeVisible();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-status', 'ready', { timeout: 30_000 });
  await expect(page.getByTestId('meta-vertices')).toHaveText(String(BOX.vertices));
  await expect(page.getByTestId('meta-triangles')).toHaveText(String(BOX.triangles));
  const generator = JSON.parse(readFileSync(box.gltf, 'utf8')).asset.generator;
  expect(generator).toMatch(/glTF-Transform/);
  await expect(page.getByTestId('meta-generator')).toHaveText(generator);
  await expect(page.getByTestId('meta-textures')).toContainText('image/png');
  const glbStats = await canvasStats(page, 'viewer-canvas');
  expect(glbStats.variance).toBeGreaterThan(20);
  expect(glbStats.distinct).toBeGreaterThan(20);
  await page.getByTestId('viewer-canvas').screenshot({ path: `${SHOTS}asset-preview-glb.png` });

  // The .gltf with its .bin and texture, chosen together.
  await page.locator('#preview-files').setInputFiles([box.gltf, box.bin, box.png]);
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-status', 'ready', { timeout: 30_000 });
  await expect(page.getByTestId('meta-vertices')).toHaveText(String(BOX.vertices));
  await expect(page.getByTestId('meta-triangles')).toHaveText(String(BOX.triangles));
  await expect(page.getByTestId('meta-textures')).toContainText('4×4');
  const gltfStats = await canvasStats(page, 'viewer-canvas');
  expect(gltfStats.variance).toBeGreaterThan(20);
  await page.screenshot({ path: `${SHOTS}asset-preview-gltf.png`, fullPage: true });

  // Export, derivation, handoff, deletion.
  const form = page.getByTestId('custody-form');
  await form.getByLabel('Destination', { exact: true }).fill('Encrypted SSD <b>Vault-2</b>');
  await form.getByRole('button', { name: 'Record export' }).click();
  await expect(page.getByTestId('step')).toHaveCount(2);

  await form.getByRole('radio', { name: /Derivation/ }).check();
  const retopo = path.join(dir, 'box-retopo.glb');
  writeFileSync(retopo, Buffer.concat([readFileSync(box.glb), Buffer.from('retopo')]));
  await form.locator('#c-new-files').setInputFiles(retopo);
  await form.getByLabel('Version').fill('4.2');
  await form.getByRole('button', { name: 'Record derivation' }).click();
  await expect(page.getByTestId('step')).toHaveCount(3);
  await expect(page.getByTestId('asset-files')).toContainText('box-retopo.glb');

  await form.getByRole('radio', { name: /Handoff/ }).check();
  // Nothing is ticked for a handoff: which files went to the client is the user's statement.
  await expect(form.getByRole('checkbox', { checked: true })).toHaveCount(0);
  await form.getByRole('checkbox', { name: /box-retopo\.glb/ }).check();
  await form.getByLabel('Recipient').fill('Client Co');
  await form.getByLabel('Terms').fill('exclusive licence');
  await form.getByRole('button', { name: 'Record handoff' }).click();
  await expect(page.getByTestId('step')).toHaveCount(4);

  await form.getByRole('radio', { name: /Deletion/ }).check();
  await form.getByLabel('Status').selectOption('confirmed');
  const mail = path.join(dir, 'deleted.eml');
  writeFileSync(mail, 'Subject: your files were deleted\n');
  await form.getByLabel(/Confirmation evidence/).setInputFiles(mail);
  await form.getByRole('button', { name: 'Record deletion' }).click();
  await expect(page.getByTestId('step')).toHaveCount(5);
  await expect(
    page
      .getByTestId('step')
      .locator('xpath=.')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-type')))
  ).resolves.toEqual(['generation', 'export', 'derivation', 'handoff', 'deletion']);
  await expect(page.getByTestId('cloud-status')).toContainText('deleted');
  // Hostile text is shown as text.
  await expect(page.getByTestId('timeline')).toContainText('Encrypted SSD <b>Vault-2</b>');

  // A deep link survives a reload (static fallback), and the chain is still there.
  const url = page.url();
  await page.goto(url);
  await expect(page.getByTestId('step')).toHaveCount(5);
  await page.screenshot({ path: `${SHOTS}asset-timeline.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SHOTS}asset-narrow.png`, fullPage: true });
  expect(problems).toEqual([]);
});
