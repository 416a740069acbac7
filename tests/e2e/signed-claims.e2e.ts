/**
 * A signature is a statement: on a fresh profile nothing on the Record page is pre-ticked or carried over, the
 * privacy settings are "Not recorded" until chosen and the signed event then has no such field; model version and
 * mode are remembered per platform only, as marked suggestions; another platform's checklist is never offered;
 * a handoff ticks no file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { SHOTS, createLedger, glb, nav, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

/** The ledger export's events (JSON lines: a manifest, then each event and its journal signature). */
async function exportedEvents(page: Page, dir: string): Promise<any[]> {
  await nav(page, 'Settings');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-ledger').click()]);
  const file = path.join(dir, dl.suggestedFilename());
  await dl.saveAs(file);
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l) as [string, string])
    .filter(([key]) => !key.endsWith('.git'))
    .map(([, envelope]) => JSON.parse(envelope).event)
    .filter((e) => e.type === 'generation');
}

const group = (page: Page, name: string) => page.getByTestId('generation-form').getByRole('group', { name });

test('a fresh profile signs no privacy claim it was not given, and says "not recorded"', async ({ page }, info) => {
  const problems = watch(page);
  await createLedger(page);
  await nav(page, 'Record');
  const form = page.getByTestId('generation-form');
  // Nothing pre-filled, nothing pre-ticked.
  await expect(form.getByLabel('Platform', { exact: true })).toHaveValue('');
  await expect(form.getByLabel('Model version')).toHaveValue('');
  await expect(form.getByLabel('Project', { exact: true })).toHaveValue('');
  for (const name of ['Training opt-out', 'Privacy mode']) {
    await expect(group(page, name).getByLabel('Not recorded')).toBeChecked();
    await expect(group(page, name).getByLabel('On', { exact: true })).not.toBeChecked();
    await expect(group(page, name).getByLabel('Off', { exact: true })).not.toBeChecked();
  }
  await expect(form.getByRole('checkbox', { checked: true })).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}claims-01-record-fresh.png`, fullPage: true });

  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await form.getByLabel('Project', { exact: true }).fill('Sketches');
  await form.getByLabel('Prompt').fill('a small brass robot');
  await form
    .getByLabel('Output files')
    .setInputFiles([{ name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: glb(64, 'one') }]);
  await form.getByRole('button', { name: 'Record generation' }).click();
  const done = page.getByTestId('recorded');
  await expect(done).toContainText('Generation recorded');
  await expect(page.getByTestId('recorded-settings')).toHaveText(
    'Training opt-out: not recorded · Privacy mode: not recorded'
  );
  await page.screenshot({ path: `${SHOTS}claims-02-recorded-not-recorded.png`, fullPage: true });

  // The asset page says so.
  await done.getByRole('link', { name: 'Open the asset' }).click();
  const details = page.locator('[data-testid="step"][data-type="generation"] dl.details');
  await expect(
    details
      .locator('div')
      .filter({ has: page.getByText('Training opt-out', { exact: true }) })
      .locator('dd')
  ).toHaveText('not recorded');
  await expect(
    details
      .locator('div')
      .filter({ has: page.getByText('Privacy mode', { exact: true }) })
      .locator('dd')
  ).toHaveText('not recorded');
  await page.screenshot({ path: `${SHOTS}claims-03-asset-not-recorded.png`, fullPage: true });

  // The signed event itself has no trainingOptOut or privacyMode.
  const [gen] = await exportedEvents(page, info.outputDir);
  expect(gen.body.platform).toEqual({ name: 'Tripo' });
  expect(gen.body.settings).toEqual({});
  expect(JSON.stringify(gen)).not.toMatch(/trainingOptOut|privacyMode/);
  expect(problems).toEqual([]);
});

test('values stay with their platform: Tripo v2.5 is not carried to Meshy, nor is a Tripo checklist', async ({
  page
}, info) => {
  const problems = watch(page);
  await createLedger(page);

  // A checklist of the project for Tripo.
  await nav(page, 'Checklist');
  const cf = page.getByTestId('checklist-form');
  await cf.getByLabel('Project', { exact: true }).fill('Bronze Robots');
  await cf.getByLabel('Platform', { exact: true }).fill('Tripo');
  await cf.getByRole('button', { name: 'Record checklist' }).click();
  await expect(page.getByTestId('checklist-recorded')).toContainText('Checklist recorded for Bronze Robots');

  await nav(page, 'Record');
  const form = page.getByTestId('generation-form');
  const checklist = form.getByLabel('Checklist');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await form.getByLabel('Model version').fill('v2.5');
  await form.getByLabel('Mode', { exact: true }).selectOption('image-to-3d');
  await form.getByLabel('Project', { exact: true }).fill('Bronze Robots');
  // Tripo's checklist is offered (and suggested) for a Tripo generation.
  await expect(checklist.locator('option')).toHaveCount(2);
  await expect(checklist).not.toHaveValue('');
  await group(page, 'Training opt-out').getByLabel('On', { exact: true }).check();
  await group(page, 'Privacy mode').getByLabel('Off', { exact: true }).check();

  // Switching to Meshy clears the model version and the mode, and withdraws the Tripo checklist.
  await form.getByLabel('Platform', { exact: true }).fill('Meshy');
  await expect(form.getByLabel('Model version')).toHaveValue('');
  await expect(form.getByLabel('Mode', { exact: true })).toHaveValue('text-to-3d');
  await expect(form.getByTestId('model-suggested')).toHaveCount(0);
  await expect(checklist.locator('option')).toHaveCount(1);
  await expect(checklist).toHaveValue('');
  await expect(checklist.locator('option')).toHaveText(['None']);
  await page.screenshot({ path: `${SHOTS}claims-04-meshy-cleared.png`, fullPage: true });
  await form
    .getByLabel('Output files')
    .setInputFiles([{ name: 'teapot.glb', mimeType: 'model/gltf-binary', buffer: glb(64, 'meshy') }]);
  await form.getByRole('button', { name: 'Record generation' }).click();
  await expect(page.getByTestId('recorded')).toContainText('Generation recorded');
  await expect(page.getByTestId('recorded-settings')).toHaveText('Training opt-out: on · Privacy mode: off');
  // After recording, the settings are "Not recorded" again for the next one.
  await expect(group(page, 'Training opt-out').getByLabel('Not recorded')).toBeChecked();

  // A Tripo generation: remembered for Tripo only, shown as a suggestion; Meshy gets nothing of it.
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await expect(form.getByLabel('Model version')).toHaveValue('');
  await form.getByLabel('Model version').fill('v2.5');
  await form.getByLabel('Mode', { exact: true }).selectOption('image-to-3d');
  await form
    .getByLabel('Output files')
    .setInputFiles([{ name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: glb(64, 'tripo') }]);
  await form.getByRole('button', { name: 'Record generation' }).click();
  await expect(page.getByTestId('recorded')).toContainText('Generation recorded');

  await page.reload();
  await expect(form.getByLabel('Platform', { exact: true })).toHaveValue('');
  await form.getByLabel('Platform', { exact: true }).fill('Meshy');
  await expect(form.getByLabel('Model version')).toHaveValue('');
  await form.getByLabel('Platform', { exact: true }).fill('Rodin');
  await expect(form.getByLabel('Model version')).toHaveValue('');
  await expect(form.getByLabel('Mode', { exact: true })).toHaveValue('text-to-3d');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await expect(form.getByLabel('Model version')).toHaveValue('v2.5');
  await expect(form.getByLabel('Mode', { exact: true })).toHaveValue('image-to-3d');
  await expect(form.getByTestId('model-suggested')).toHaveText('Suggested: last used on Tripo');
  await expect(form.getByTestId('mode-suggested')).toHaveText('Suggested: last used on Tripo');
  await page.screenshot({ path: `${SHOTS}claims-05-tripo-suggested.png`, fullPage: true });
  // Editing the value makes it the user's own: no longer marked.
  await form.getByLabel('Model version').fill('v3.0');
  await expect(form.getByTestId('model-suggested')).toHaveCount(0);

  // What was signed: the Meshy event has no model version and no checklist; the Tripo one has v2.5.
  const gens = await exportedEvents(page, info.outputDir);
  const meshy = gens.find((e) => e.body.platform.name === 'Meshy');
  const tripo = gens.find((e) => e.body.platform.name === 'Tripo');
  expect(meshy.body.platform).toEqual({ name: 'Meshy' });
  expect(meshy.body.mode).toBe('text-to-3d');
  expect(meshy.body.checklist).toBeUndefined();
  expect(meshy.body.settings).toEqual({ trainingOptOut: true, privacyMode: false });
  expect(tripo.body.platform).toEqual({ name: 'Tripo', modelVersion: 'v2.5' });
  expect(tripo.body.checklist).toBeDefined();
  expect(tripo.body.settings).toEqual({});
  expect(problems).toEqual([]);
});

test("a handoff ticks no file: which files went to the client is the user's statement", async ({ page }) => {
  const problems = watch(page);
  await createLedger(page);
  await nav(page, 'Record');
  const form = page.getByTestId('generation-form');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await form.getByLabel('Project', { exact: true }).fill('Handoffs');
  await form.getByLabel('Prompt').fill('a chair');
  await form
    .getByLabel('Output files')
    .setInputFiles([{ name: 'chair.glb', mimeType: 'model/gltf-binary', buffer: glb(64, 'chair') }]);
  await form.getByRole('button', { name: 'Record generation' }).click();
  await page.getByTestId('recorded').getByRole('link', { name: 'Open the asset' }).click();

  const custody = page.getByTestId('custody-form');
  await custody.getByRole('radio', { name: /Handoff/ }).check();
  await expect(custody.getByRole('checkbox', { name: /chair\.glb/ })).toBeVisible();
  await expect(custody.getByRole('checkbox', { name: /chair\.glb/ })).not.toBeChecked();
  await expect(custody.getByRole('checkbox', { checked: true })).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}claims-06-handoff-nothing-ticked.png`, fullPage: true });
  await custody.getByRole('checkbox', { name: /chair\.glb/ }).check();
  await custody.getByLabel('Recipient').fill('Client Co');
  await custody.getByRole('button', { name: 'Record handoff' }).click();
  await expect(page.locator('[data-testid="step"][data-type="handoff"]')).toHaveCount(1);
  expect(problems).toEqual([]);
});
