/**
 * The first visit, end to end in real Chromium: create a ledger, record a generation with real files, find it
 * again after a reload (IndexedDB), and show hostile text as text. (Verifying the ledger: the Verify page's tests.) Screenshots of each
 * state go to test-results/screenshots/.
 */
import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const BUILD = fileURLToPath(new URL('../../build/', import.meta.url));
const HOSTILE = '<img src=x onerror=alert(1)>';

test.use({ baseURL: process.env.E2E_BASE_URL });

/** A minimal valid binary glTF 2.0 file: header + one JSON chunk. */
function tinyGlb(): Buffer {
  let json = Buffer.from(
    JSON.stringify({ asset: { version: '2.0', generator: 'e2e' }, scenes: [{ nodes: [] }], scene: 0 })
  );
  const pad = (4 - (json.length % 4)) % 4;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const header = Buffer.alloc(12);
  header.write('glTF', 0, 'ascii');
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + 8 + json.length, 8);
  const chunk = Buffer.alloc(8);
  chunk.writeUInt32LE(json.length, 0);
  chunk.write('JSON', 4, 'ascii');
  return Buffer.concat([header, chunk, json]);
}

const OBJ = Buffer.from('# e2e cube face\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Fails the test on page errors, CSP violations, console errors and dialogs (an executed alert()). */
function watch(page: Page) {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return problems;
}

async function createLedger(page: Page, member = 'Ada Artist', ledger = 'Studio Nord') {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  await page.getByLabel('Your name').fill(member);
  await page.getByLabel('Ledger name').fill(ledger);
  await page.getByRole('button', { name: 'Create ledger' }).click();
  await expect(page.getByTestId('ledger-name')).toHaveText(ledger);
}

test('create a ledger, record a generation, reload', async ({ page }) => {
  const problems = watch(page);
  const glb = tinyGlb();

  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  // No navigation before there is a ledger to navigate.
  await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}01-create-ledger.png`, fullPage: true });

  await page.getByLabel('Your name').fill('Ada Artist');
  await page.getByLabel('Ledger name').fill('Studio Nord');
  await page.getByRole('button', { name: 'Create ledger' }).click();
  await expect(page.getByTestId('ledger-name')).toHaveText('Studio Nord');
  // The genesis event: the ledger and its owner.
  await expect(page.getByTestId('recent-event')).toHaveCount(1);
  await expect(page.getByTestId('recent-event').first()).toContainText('created by Ada Artist');
  await page.screenshot({ path: `${SHOTS}02-empty-ledger.png`, fullPage: true });

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Record', exact: true }).click();
  const form = page.getByTestId('generation-form');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await form.getByLabel('Model version').fill('v2.5');
  await form.getByLabel('Mode', { exact: true }).selectOption('text-to-3d');
  await form.getByLabel('Prompt').fill('a weathered bronze robot, secret client brief');
  await form.getByLabel('Project', { exact: true }).fill(HOSTILE);
  await form.getByLabel('Classification').selectOption('client');
  // Nothing is claimed until chosen: both settings start at "Not recorded".
  await expect(form.getByRole('group', { name: 'Training opt-out' }).getByLabel('Not recorded')).toBeChecked();
  await form.getByRole('group', { name: 'Training opt-out' }).getByLabel('On', { exact: true }).check();
  await form.getByRole('group', { name: 'Privacy mode' }).getByLabel('Off', { exact: true }).check();
  await form.getByLabel('Output files').setInputFiles([
    { name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: glb },
    { name: 'robot.obj', mimeType: 'text/plain', buffer: OBJ }
  ]);
  await form.getByRole('button', { name: 'Record generation' }).click();
  const recorded = page.getByTestId('recorded');
  await expect(recorded).toContainText('Generation recorded');
  // Hashed in the worker by streaming; must equal Node's SHA-256 of the same bytes.
  await expect(recorded.locator('[data-sha256]')).toHaveCount(2);
  await expect(recorded.locator('[data-sha256]').first()).toHaveAttribute('data-sha256', sha256(glb));
  await expect(recorded.locator('[data-sha256]').nth(1)).toHaveAttribute('data-sha256', sha256(OBJ));
  await expect(page.locator('main img')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}03-generation-recorded.png`, fullPage: true });

  await page.goto('/');
  await page.reload();
  await expect(page.getByTestId('ledger-name')).toHaveText('Studio Nord');
  await expect(page.getByTestId('count-events')).toHaveText('2');
  const gen = page.getByTestId('recent-event').first();
  await expect(gen).toContainText('Tripo');
  await expect(gen).toContainText(HOSTILE);
  await expect(gen).toContainText('robot.glb, robot.obj');
  // The hostile project name is text, not markup; the prompt never shows.
  await expect(page.locator('main img')).toHaveCount(0);
  await expect(page.locator('main')).not.toContainText('weathered bronze robot');
  await page.screenshot({ path: `${SHOTS}04-after-reload.png`, fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SHOTS}06-narrow.png`, fullPage: true });

  expect(problems).toEqual([]);
});

test('errors from the engine are announced in the alert region', async ({ page }) => {
  const problems = watch(page);
  await createLedger(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Record', exact: true }).click();

  const form = page.getByTestId('generation-form');
  // Missing fields are caught in the page before anything is sent.
  await form.getByRole('button', { name: 'Record generation' }).click();
  await expect(form.getByRole('alert')).toContainText('Still needed: platform, project, at least one output file');

  // A file name with a control character passes the form but not the core's schema check, in the worker.
  await form.getByLabel('Platform', { exact: true }).fill('Meshy');
  await form.getByLabel('Project', { exact: true }).fill('Odd files');
  await form
    .getByLabel('Output files')
    .setInputFiles([
      { name: 'bad\u0007name.stl', mimeType: 'model/stl', buffer: Buffer.from('solid a\nendsolid a\n') }
    ]);
  await form.getByRole('button', { name: 'Record generation' }).click();
  const alert = page.getByTestId('error');
  await expect(alert).toContainText('SCHEMA_INVALID');
  // Seen where the user is (the form's bottom), not only at the top of a long page.
  await expect(alert.getByText('Something went wrong')).toBeInViewport();
  await page.screenshot({ path: `${SHOTS}07-engine-error.png` });

  await alert.getByRole('button', { name: 'Dismiss' }).click();
  await expect(alert).toBeEmpty();
  // The failed append left the ledger whole: only the genesis event.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard', exact: true }).click();
  await expect(page.getByTestId('count-events')).toHaveText('1');

  expect(problems.filter((p) => !p.startsWith('console:'))).toEqual([]);
});

test('the server sends security headers, WebAssembly MIME, SPA fallback and refuses traversal', async ({ request }) => {
  const home = await request.get('/');
  expect(home.status()).toBe(200);
  const csp = home.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval'( 'sha256-[A-Za-z0-9+/=]+')*(;|$)/);
  expect(csp).not.toContain("'unsafe-eval'");
  expect(csp).toContain("object-src 'none'");
  expect(csp).toContain("base-uri 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(/script-src[^;]*'unsafe-inline'/.test(csp)).toBe(false);
  expect(home.headers()['x-content-type-options']).toBe('nosniff');
  const html = await home.text();
  expect(html).toContain('http-equiv="content-security-policy"');

  // Automerge's WebAssembly, as built: served with the MIME type instantiateStreaming requires.
  const wasmFile = findFiles(BUILD, '.wasm')[0];
  expect(wasmFile, 'a .wasm file in build/').toBeTruthy();
  const wasm = await request.get(`/${wasmFile}`);
  expect(wasm.status()).toBe(200);
  expect(wasm.headers()['content-type']).toBe('application/wasm');

  const deep = await request.get('/some/deep/link');
  expect(deep.status()).toBe(200);
  expect(deep.headers()['content-type']).toContain('text/html');

  for (const evil of [
    '/../package.json',
    '/%2e%2e/package.json',
    '/..%2fpackage.json',
    '/_app/%2e%2e/%2e%2e/package.json',
    '/.git/config'
  ]) {
    const r = await request.get(evil);
    expect(r.status(), evil).not.toBe(200);
    expect(await r.text(), evil).not.toContain('provenance-ledger');
  }
  expect((await request.get('/_app/immutable/missing.js')).status()).toBe(404);
});

function findFiles(dir: string, ext: string, rel = ''): string[] {
  return readdirSync(dir + rel, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? findFiles(dir, ext, `${rel}${d.name}/`) : d.name.endsWith(ext) ? [`${rel}${d.name}`] : []
  );
}
