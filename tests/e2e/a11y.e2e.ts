/**
 * Accessibility checked by axe-core (the npm package, run in the page) on every page, empty and populated,
 * in the light and the dark colour scheme and on a narrow screen: any violation of serious or critical impact
 * fails the test, listed with its rule, the elements and axe's help text.
 *
 * Injection under the app's strict CSP: page.addScriptTag({ path }) writes an inline <script> with the file's
 * text, which `script-src 'self' <hashes>` refuses (checked below: axe is then not defined in the page). axe is
 * therefore evaluated through the DevTools protocol (page.evaluate of its source), which the page's CSP does
 * not govern, as @axe-core/playwright does. The policy itself stays strict and unchanged.
 */
import { test, expect, type Page } from '@playwright/test';
import { SHOTS, createLedger, glb, nav, recordGeneration, watch } from './flows.ts';
import { AXE_PATH, AXE_SOURCE, audit } from './support/axe.ts';

const PAGES = ['/', '/record', '/checklist', '/policies', '/search', '/asset', '/verify', '/team', '/settings'];

/** Opens `path` (a full load) and waits until the page has settled: its heading shown, nothing loading. */
async function visit(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator('main h1').first()).toBeVisible();
  await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
}

async function auditAll(page: Page, paths: string[], label: string) {
  const found: string[] = [];
  for (const path of paths) {
    await visit(page, path);
    for (const f of await audit(page))
      found.push(`${label} ${path}: [${f.impact}] ${f.id}: ${f.help}\n    ${f.nodes.join('\n    ')}`);
  }
  return found;
}

test('axe cannot be injected as an inline script under the CSP, and the CSP stays strict', async ({ page }) => {
  const problems = watch(page);
  await page.goto('/');
  await page.addScriptTag({ path: AXE_PATH }).catch(() => undefined);
  expect(await page.evaluate(() => 'axe' in window)).toBe(false);
  // The refusal is the CSP's (reported on the console), not a missing file.
  expect(problems.some((p) => /Content Security Policy/i.test(p))).toBe(true);
  await page.evaluate(AXE_SOURCE);
  expect(await page.evaluate(() => typeof (window as unknown as { axe?: { run?: unknown } }).axe?.run)).toBe(
    'function'
  );
  // And it finds what it should: an image without a text alternative, added for the check, is critical.
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  await page.evaluate(() =>
    document.querySelector('main')!.append(Object.assign(document.createElement('img'), { src: '/favicon.svg' }))
  );
  expect((await audit(page)).map((f) => f.id)).toContain('image-alt');
});

test('every page, empty and populated, light and dark, wide and narrow: no serious or critical axe violations', async ({
  page
}) => {
  test.setTimeout(180_000);
  const problems = watch(page);
  const found: string[] = [];

  // Empty: no ledger on this device yet.
  found.push(...(await auditAll(page, PAGES, 'empty')));

  // Populated: a ledger with a policy snapshot, a checklist and a generation.
  await createLedger(page);
  await nav(page, 'Policies');
  const pf = page.getByTestId('policy-form');
  await pf.getByLabel('Platform', { exact: true }).fill('Tripo');
  await pf
    .getByLabel('Policy text', { exact: true })
    .fill('Tripo privacy policy.\n\nWe may train on your inputs unless you opt out.');
  await pf.getByRole('button', { name: 'Save snapshot' }).click();
  await expect(page.getByTestId('snapshot-view')).toBeVisible();
  await recordGeneration(page, {
    platform: 'Tripo',
    project: 'Bronze Robots',
    classification: 'client',
    files: [{ name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: glb(64) }]
  });
  await recordGeneration(page, {
    platform: 'Meshy',
    project: 'Open Chairs',
    classification: 'confidential',
    files: [{ name: 'chair.glb', mimeType: 'model/gltf-binary', buffer: glb(32) }]
  });
  await nav(page, 'Assets');
  await page.getByRole('link', { name: 'robot.glb' }).first().click();
  await expect(page).toHaveURL(/\/asset\/.+/);
  const asset = new URL(page.url()).pathname;
  await nav(page, 'Policies');
  await page.getByTestId('snapshot-link').first().click();
  await expect(page).toHaveURL(/snapshot=/);
  const policy = new URL(page.url()).pathname + new URL(page.url()).search;

  const populated = [...PAGES, asset, policy];
  found.push(...(await auditAll(page, populated, 'populated')));
  await page.screenshot({ path: `${SHOTS}a11y-01-dashboard-light.png`, fullPage: true });

  // A verify report and a file looked up: result panels shown.
  await visit(page, '/verify');
  await page.getByTestId('verify-ledger').click();
  await expect(page.getByTestId('report-ok')).toBeVisible();
  await page
    .locator('#verify-files')
    .setInputFiles({ name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: glb(64) });
  await expect(page.getByTestId('verify-result')).toBeVisible();
  for (const f of await audit(page))
    found.push(`verify results: [${f.impact}] ${f.id}: ${f.help}\n    ${f.nodes.join('\n    ')}`);

  await page.emulateMedia({ colorScheme: 'dark' });
  found.push(...(await auditAll(page, populated, 'dark')));
  await page.screenshot({ path: `${SHOTS}a11y-02-dashboard-dark.png`, fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });

  await page.setViewportSize({ width: 390, height: 844 });
  found.push(...(await auditAll(page, ['/', '/record', '/search', asset], 'narrow')));
  await page.getByRole('button', { name: 'Menu' }).click();
  for (const f of await audit(page))
    found.push(`narrow menu open: [${f.impact}] ${f.id}: ${f.help}\n    ${f.nodes.join('\n    ')}`);

  expect(found, found.join('\n')).toEqual([]);
  expect(problems).toEqual([]);
});
