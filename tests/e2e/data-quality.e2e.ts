/**
 * Data quality in real Chromium, on a fresh profile: a .gltf chosen without the .bin and texture it names is
 * warned about before signing; a file already in the ledger is warned about, naming its event; deleting a
 * derived file from the platform is warned about; the asset page shows the glTF's own generator
 * (COLLADA2GLTF, not the library that read it) and words, never codes such as "image-to-3d"; a date-only
 * retrieval date shows without an invented time; "Show my prompt" shows it only after the confirmation.
 */
import { test, expect, type Page } from '@playwright/test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeBoxFixtures } from './support/gltf-fixtures.ts';
import { SHOTS, createLedger, nav, watch } from './flows.ts';

const PROMPT = 'a small brass robot, low poly, riveted plates';

async function fillGeneration(page: Page, platform: string, files: string[]) {
  await nav(page, 'Record');
  const form = page.getByTestId('generation-form');
  await form.getByLabel('Platform', { exact: true }).fill(platform);
  await form.getByLabel('Project', { exact: true }).fill('Robot Client');
  await form.getByLabel('Mode', { exact: true }).selectOption('image-to-3d');
  await form.getByLabel('Output files').setInputFiles(files);
  return form;
}

test('data quality: warnings before signing, the file’s own generator, words not codes, dates as recorded, my prompt on purpose', async ({
  page
}) => {
  test.setTimeout(120_000);
  const problems = watch(page);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-dq-'));
  const box = await writeBoxFixtures(dir);
  // The file's own generator, as a COLLADA converter writes it (the .bin and texture are the box's).
  const json = JSON.parse(readFileSync(box.gltf, 'utf8'));
  json.asset.generator = 'COLLADA2GLTF';
  writeFileSync(box.gltf, JSON.stringify(json));

  await createLedger(page);

  // 1. A .gltf without the files it names: warned, naming them; adding them clears the warning.
  const form = await fillGeneration(page, 'Tripo', [box.gltf]);
  await form.getByLabel('Prompt').fill(PROMPT);
  const missing = page.getByTestId('warn-gltf-missing');
  await expect(missing).toContainText('box.gltf');
  await expect(missing).toContainText('box.bin');
  await expect(missing).toContainText('box.png');
  await page.screenshot({ path: `${SHOTS}data-quality-01-gltf-missing.png`, fullPage: true });
  await form.getByLabel('Output files').setInputFiles([box.bin, box.png]);
  await expect(form.getByTestId('output-files').getByTestId('file-row')).toHaveCount(3);
  await expect(missing).toHaveCount(0);
  await expect(page.getByTestId('warn-duplicate')).toHaveCount(0);
  await form.getByRole('button', { name: 'Record generation' }).click();
  await expect(page.getByTestId('recorded')).toContainText('Generation recorded');
  const firstId = (await page.getByTestId('recorded').locator('code').first().innerText()).trim();
  expect(firstId).toMatch(/^[0-9a-f]{12}$/);
  const assetHref = await page
    .getByTestId('recorded')
    .getByRole('link', { name: 'Open the asset' })
    .getAttribute('href');

  // 2. The same .bin again, for another generation: warned, naming the event that recorded it.
  await fillGeneration(page, 'Meshy', [box.bin]);
  const dup = page.getByTestId('warn-duplicate');
  await expect(dup).toContainText('box.bin');
  await expect(dup).toContainText('already in the ledger');
  await expect(dup).toContainText(firstId);
  await expect(dup.getByRole('link', { name: firstId })).toHaveAttribute(
    'href',
    `/asset/${assetHref!.split('/').pop()}`
  );
  await page.screenshot({ path: `${SHOTS}data-quality-02-duplicate.png`, fullPage: true });
  // Not blocking: the button still records.
  await expect(page.getByRole('button', { name: 'Record generation' })).toBeEnabled();

  // 3. A policy snapshot retrieved on a past day, entered as a date: shown as that date, no invented time.
  await nav(page, 'Policies');
  const pol = page.getByTestId('policy-form');
  await pol.getByLabel('Platform', { exact: true }).fill('Tripo');
  await pol.getByLabel('Document', { exact: true }).selectOption('privacy-policy');
  await pol.getByLabel('Retrieved on').fill('2025-10-03');
  await pol.getByLabel('Policy text', { exact: true }).fill('We may use your inputs to improve our models.');
  await pol.getByRole('button', { name: 'Save snapshot' }).click();
  const view = page.getByTestId('snapshot-view');
  await expect(view).toContainText('Tripo');
  const retrieved = view.locator('dt', { hasText: 'Retrieved' }).locator('xpath=following-sibling::dd[1]');
  await expect(retrieved).toContainText('2025');
  await expect(retrieved).toContainText('3');
  expect(await retrieved.innerText()).not.toMatch(/12:00|AM|PM|:\d\d/);
  await expect(page.getByTestId('snapshot-link').first()).not.toContainText('12:00');
  await page.screenshot({ path: `${SHOTS}data-quality-03-retrieval-date.png`, fullPage: true });

  // 4. The asset page: words, not codes; the file's own generator in the preview.
  await page.goto(assetHref!);
  await expect(page.getByTestId('asset-title')).toHaveText('box.gltf');
  await expect(page.getByTestId('timeline')).toContainText('Image to 3D');
  const text = await page.locator('main').innerText();
  for (const code of ['image-to-3d', 'privacy-policy', 'text-to-3d', 'encrypted-drive'])
    expect(text).not.toContain(code);
  await page.locator('#preview-files').setInputFiles([box.gltf, box.bin, box.png]);
  await expect(page.getByTestId('meta-generator')).toHaveText('COLLADA2GLTF');
  await expect(page.getByTestId('preview')).not.toContainText('glTF-Transform');

  // 5. My prompt: never shown before the click and the confirmation.
  const show = page.getByTestId('show-prompt');
  await expect(show).not.toContainText(PROMPT);
  expect(await page.content()).not.toContain(PROMPT);
  await show.getByRole('button', { name: 'Show my prompt' }).click();
  await expect(show.getByTestId('show-prompt-confirm')).toBeVisible();
  await expect(show).not.toContainText(PROMPT);
  await page.screenshot({ path: `${SHOTS}data-quality-04-prompt-confirm.png`, fullPage: true });
  await show.getByRole('button', { name: 'Cancel' }).click();
  await expect(show.getByTestId('prompt-text')).toHaveCount(0);
  await show.getByRole('button', { name: 'Show my prompt' }).click();
  await show.getByRole('button', { name: 'Yes, show it' }).click();
  await expect(show.getByTestId('prompt-text')).toHaveText(PROMPT);
  await expect(show).toContainText('Checked against the event');
  await page.screenshot({ path: `${SHOTS}data-quality-05-prompt-shown.png`, fullPage: true });
  await show.getByRole('button', { name: 'Hide' }).click();
  await expect(show).not.toContainText(PROMPT);

  // 6. Deleting a derived file from the platform: warned that the platform never held it.
  const custody = page.getByTestId('custody-form');
  await custody.getByRole('radio', { name: /Derivation/ }).check();
  const retopo = path.join(dir, 'box-retopo.fbx');
  writeFileSync(retopo, 'retopologised box');
  await custody.locator('#c-new-files').setInputFiles(retopo);
  await custody.getByRole('button', { name: 'Record derivation' }).click();
  await expect(page.getByTestId('asset-files')).toContainText('box-retopo.fbx');
  await custody.getByRole('radio', { name: /Deletion/ }).check();
  await expect(page.getByTestId('warn-not-on-platform')).toHaveCount(0);
  await custody.getByRole('checkbox', { name: /box-retopo\.fbx/ }).check();
  const stray = page.getByTestId('warn-not-on-platform');
  await expect(stray).toContainText('box-retopo.fbx');
  await expect(stray).toContainText('Tripo');
  await expect(stray).not.toContainText('box.gltf');
  await page.screenshot({ path: `${SHOTS}data-quality-06-deletion-warning.png`, fullPage: true });

  expect(problems).toEqual([]);
});
