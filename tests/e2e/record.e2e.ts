/**
 * Record a generation: a multi-file glTF set grouped under one set label, a 20 MB GLB hashed in the worker
 * with a progress bar per file, hashes equal to Node's, model version and mode remembered per platform only,
 * hostile file names as text.
 */
import { test, expect } from '@playwright/test';
import { HOSTILE, SHOTS, createLedger, glb, gltfSet, nav, sha256, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

test('record a glTF set and a 20 MB GLB with progress, hashes match, model version remembered for its platform', async ({
  page
}) => {
  const problems = watch(page);
  await createLedger(page);
  await nav(page, 'Record');
  await expect(page.getByRole('heading', { name: 'Record a generation', level: 1 })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Record', exact: true })).toHaveAttribute('aria-current', 'page');
  await page.screenshot({ path: `${SHOTS}record-01-empty.png`, fullPage: true });

  const form = page.getByTestId('generation-form');
  const set = gltfSet('robot');
  const big = glb(20 * 1024 * 1024, 'big');
  const stl = Buffer.from('solid a\nendsolid a\n');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await form.getByLabel('Model version').fill('v2.5');
  await form.getByLabel('Mode', { exact: true }).selectOption('image-to-3d');
  await form.getByLabel('Prompt').fill('a weathered bronze robot, secret client brief');
  await form.getByLabel('Project', { exact: true }).fill('Bronze Robots');
  await form.getByLabel('Classification').selectOption('client');
  await form.getByLabel('Seed').fill('42');
  await form
    .getByLabel('Output files')
    .setInputFiles([...set, { name: 'statue.glb', mimeType: 'model/gltf-binary', buffer: big }]);
  await form.getByLabel('Output files').setInputFiles([{ name: `${HOSTILE}.stl`, mimeType: 'model/stl', buffer: stl }]);
  await form
    .getByLabel('Reference images or files (optional)')
    .setInputFiles([{ name: 'sketch.png', mimeType: 'image/png', buffer: set[2].buffer }]);

  // The .gltf, the .bin and the texture it names form one set; the others stand alone.
  const rows = form.getByTestId('output-files').getByTestId('file-row');
  await expect(rows).toHaveCount(5);
  await expect(form.getByLabel('Model set of robot.gltf')).toHaveValue('robot.gltf');
  await expect(form.getByLabel('Model set of robot.bin')).toHaveValue('robot.gltf');
  await expect(form.getByLabel('Model set of robot_baseColor.png')).toHaveValue('robot.gltf');
  await expect(form.getByLabel('Model set of statue.glb')).toHaveValue('');
  await expect(rows.filter({ hasText: `${HOSTILE}.stl` })).toHaveCount(1);
  await expect(page.locator('main img')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}record-02-files.png`, fullPage: true });

  // Every value a per-file progress bar takes while hashing.
  await page.evaluate(() => {
    const seen: Record<string, number[]> = {};
    (window as unknown as { __progress: typeof seen }).__progress = seen;
    new MutationObserver(() => {
      for (const p of document.querySelectorAll<HTMLProgressElement>('[data-testid="file-progress"]')) {
        (seen[p.getAttribute('aria-label') ?? ''] ??= []).push(p.value);
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value'] });
  });
  await form.getByRole('button', { name: 'Record generation' }).click();
  const done = page.getByTestId('recorded');
  await expect(done).toContainText('Generation recorded');
  const seen = await page.evaluate(() => (window as unknown as { __progress: Record<string, number[]> }).__progress);
  const bigSeen = seen['Hashing statue.glb'] ?? [];
  expect(bigSeen.length, 'the 20 MB file showed a progress bar').toBeGreaterThan(0);
  expect(Math.max(...bigSeen)).toBe(100);
  await page.screenshot({ path: `${SHOTS}record-03-recorded.png`, fullPage: true });

  // The hashes the worker computed are Node's SHA-256 of the same bytes; the set label is kept.
  for (const [name, bytes] of [
    ['robot.gltf', set[0].buffer],
    ['robot.bin', set[1].buffer],
    ['robot_baseColor.png', set[2].buffer],
    ['statue.glb', big],
    [`${HOSTILE}.stl`, stl]
  ] as const) {
    await expect(
      done
        .locator('li')
        .filter({ has: page.getByText(name, { exact: true }) })
        .locator('[data-sha256]')
    ).toHaveAttribute('data-sha256', sha256(bytes));
  }
  await expect(done.locator('li').filter({ has: page.getByText('robot.bin', { exact: true }) })).toContainText(
    'set robot.gltf'
  );
  await expect(done).toContainText(HOSTILE);
  await expect(page.locator('main img')).toHaveCount(0);
  await expect(page.locator('main')).not.toContainText('weathered bronze robot');

  // The form was emptied of files and prompt. After a reload nothing is pre-filled; choosing Tripo again brings
  // back the version and mode last used on Tripo, marked as such.
  await expect(form.getByTestId('output-files')).toHaveCount(0);
  await page.reload();
  await expect(form.getByLabel('Platform', { exact: true })).toHaveValue('');
  await expect(form.getByLabel('Model version')).toHaveValue('');
  await expect(form.getByLabel('Project', { exact: true })).toHaveValue('');
  await expect(form.getByLabel('Prompt')).toHaveValue('');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await expect(form.getByLabel('Model version')).toHaveValue('v2.5');
  await expect(form.getByTestId('model-suggested')).toHaveText('Suggested: last used on Tripo');
  await expect(form.getByLabel('Mode', { exact: true })).toHaveValue('image-to-3d');

  // Missing fields are named before anything is sent.
  await form.getByLabel('Platform', { exact: true }).fill('');
  await form.getByRole('button', { name: 'Record generation' }).click();
  await expect(form.getByRole('alert')).toContainText('Still needed: platform, project, at least one output file');

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SHOTS}record-04-narrow.png`, fullPage: true });
  expect(problems).toEqual([]);
});

test('files can be dropped on the drop zone', async ({ page }) => {
  const problems = watch(page);
  await createLedger(page);
  await nav(page, 'Record');
  const set = gltfSet('chair');
  const dt = await page.evaluateHandle(
    (files) => {
      const dt = new DataTransfer();
      for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
      return dt;
    },
    set.map((f) => ({ name: f.name, b64: f.buffer.toString('base64') }))
  );
  await page.getByTestId('drop-outputs').dispatchEvent('drop', { dataTransfer: dt });
  const rows = page.getByTestId('output-files').getByTestId('file-row');
  await expect(rows).toHaveCount(3);
  await expect(page.getByLabel('Model set of chair.bin')).toHaveValue('chair.gltf');
  expect(problems).toEqual([]);
});
