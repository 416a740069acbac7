/**
 * The offline verifier (build/verify-offline.html, one self-contained HTML file the production build writes) in
 * real Chromium, opened from disk as a file:// URL with every other request aborted: it verifies the worked example
 * bundle with its file (hashed in the page), reports a tampered copy invalid and a stranger file apart from a
 * valid bundle, takes a dropped bundle, and makes no request at all (its CSP refuses one tried on purpose). Served
 * by scripts/serve.js, it carries its policy as a header too, and the Verify page offers it for download. Trusted
 * time-stamp roots from a PEM file (a bundle time-stamped by a real openssl TSA made for the test): with the TSA's
 * root its time is proven, without it or with another root the bundle stays valid with a notice; the same on the
 * app's Verify page, where the check runs in its own worker.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, SHOTS, watch } from './support/app.ts';
import { audit } from './support/axe.ts';
import { example, namesFile, stranger, strangerSha256, tamperedBundle } from './support/example-bundle.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

const FILE = path.resolve(ROOT, process.env.PL_BUILD_DIR || 'build', 'verify-offline.html');
const URL_ = pathToFileURL(FILE).href;

/** Opens the page from disk; every request other than the page itself is aborted and recorded. */
async function openOffline(page: Page): Promise<string[]> {
  const requests: string[] = [];
  page.on('request', (r) => {
    if (r.url() !== URL_) requests.push(`${r.method()} ${r.url()}`);
  });
  await page.route('**/*', (route) =>
    route.request().url() === URL_ ? route.continue() : route.abort('blockedbyclient')
  );
  await page.goto(URL_);
  await expect(page.getByRole('heading', { name: 'Verify an evidence bundle', level: 1 })).toBeVisible();
  return requests;
}

async function verify(
  page: Page,
  bundle: { name: string; text: string },
  files: Array<{ name: string; buffer: Buffer }>
) {
  await page
    .locator('#bundle-file')
    .setInputFiles({ name: bundle.name, mimeType: 'application/json', buffer: Buffer.from(bundle.text) });
  if (files.length)
    await page
      .locator('#bundle-files')
      .setInputFiles(files.map((f) => ({ ...f, mimeType: 'application/octet-stream' })));
  await expect(page.getByTestId('bundle-result')).toBeEmpty();
  await page.getByTestId('verify-bundle').click();
  await expect(page.getByTestId('bundle-verdict')).toBeVisible();
}

test('offline verifier: from disk, no network: a valid bundle and its file, a tampered copy, a stranger file', async ({
  page
}) => {
  const problems = watch(page);
  const requests = await openOffline(page);
  const html = readFileSync(FILE, 'utf8');
  // One file: no external script, stylesheet or other resource.
  expect(html).not.toMatch(/<script[^>]+src=|<link\b|<img\b|<iframe\b|\.wasm\b["'`]/i);

  // Valid, with the file it is about.
  await verify(page, { name: 'bundle.json', text: example.bundleText }, [{ name: 'model.glb', buffer: example.file }]);
  await expect(page.getByTestId('bundle-valid')).toContainText('Bundle valid');
  await expect(page.getByTestId('bundle-verdict')).toHaveAttribute('data-ok', 'true');
  const report = page.getByTestId('bundle-report');
  for (const line of example.reportLines) await expect(report).toContainText(line);
  await expect(report).toContainText(namesFile('model.glb', example.sha256));
  const fileCheck = page.getByTestId('bundle-file-check');
  await expect(fileCheck).toHaveAttribute('data-matches', 'true');
  await expect(fileCheck).toContainText(example.sha256);
  await page.screenshot({ path: `${SHOTS}verify-offline-valid.png`, fullPage: true });

  // Tampered: one character of an inclusion-proof hash.
  await verify(page, { name: 'tampered.json', text: tamperedBundle() }, []);
  await expect(page.getByTestId('bundle-invalid')).toContainText('Bundle invalid');
  await expect(page.getByTestId('bundle-valid')).toHaveCount(0);
  await expect(page.getByTestId('bundle-failure').first()).toHaveAttribute('data-code', 'INCLUSION_PROOF_INVALID');
  await expect(page.getByTestId('bundle-failure').first()).toContainText('events[');
  await expect(page.getByTestId('bundle-report')).toHaveCount(0);
  await expect(page.getByTestId('bundle-codes')).toContainText('INCLUSION_PROOF_INVALID');
  await page.screenshot({ path: `${SHOTS}verify-offline-tampered.png`, fullPage: true });

  // A stranger file beside the valid bundle: the bundle stands, the file is reported apart.
  await verify(page, { name: 'bundle.json', text: example.bundleText }, [stranger]);
  await expect(page.getByTestId('bundle-valid')).toContainText('Bundle valid');
  const finding = page.getByTestId('bundle-file-failure');
  await expect(finding).toHaveAttribute('data-code', 'FILE_NOT_IN_BUNDLE');
  await expect(finding).toContainText(strangerSha256);
  await expect(finding).toContainText(stranger.name); // shown as text: "<b>" is not markup
  await expect(page.locator('[data-testid="bundle-file-failure"] b')).toHaveCount(0);
  expect(await audit(page)).toEqual([]);

  // The ledger id the reader expects: another one fails the bundle, the right one passes.
  await page.getByLabel('Ledger id you expect').fill('ab'.repeat(32));
  await verify(page, { name: 'bundle.json', text: example.bundleText }, []);
  await expect(page.getByTestId('bundle-invalid')).toBeVisible();
  await expect(page.getByTestId('bundle-failure').first()).toHaveAttribute('data-code', 'LEDGER_UNEXPECTED');
  await page.getByLabel('Ledger id you expect').fill(JSON.parse(example.bundleText).ledger);
  await page.getByTestId('verify-bundle').click();
  await expect(page.getByTestId('bundle-valid')).toBeVisible();
  await page.getByLabel('Ledger id you expect').fill('');

  // Not JSON at all.
  await verify(page, { name: 'notes.json', text: 'not a bundle' }, []);
  await expect(page.getByTestId('bundle-failure').first()).toHaveAttribute('data-code', 'BUNDLE_MALFORMED');

  expect(requests).toEqual([]);
  expect(problems).toEqual([]);
});

test('offline verifier: a dropped bundle and file; its policy refuses any connection', async ({ page }) => {
  const requests = await openOffline(page);
  // Dropped, as a person would: a DataTransfer made in the page with the bundle and the model.
  await page.evaluate(
    ({ text, model }) => {
      const drop = (testid: string, files: File[]) => {
        const dt = new DataTransfer();
        for (const f of files) dt.items.add(f);
        document
          .querySelector(`[data-testid="${testid}"]`)!
          .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      };
      drop('bundle-drop', [new File([text], 'dropped.bundle.json', { type: 'application/json' })]);
      drop('bundle-files-drop', [new File([Uint8Array.from(atob(model), (c) => c.charCodeAt(0))], 'model.glb')]);
    },
    { text: example.bundleText, model: example.file.toString('base64') }
  );
  await expect(page.getByTestId('bundle-chosen')).toHaveText('Bundle: dropped.bundle.json');
  await expect(page.getByTestId('bundle-files-chosen')).toHaveText('Files: model.glb');
  await page.getByTestId('verify-bundle').click();
  await expect(page.getByTestId('bundle-valid')).toContainText('dropped.bundle.json');
  await expect(page.getByTestId('bundle-file-check')).toHaveAttribute('data-matches', 'true');

  // The page's own policy forbids connections: a fetch tried from it is refused by CSP (connect-src 'none').
  const refused = await page.evaluate(async () => {
    const violation = new Promise<string>((resolve) =>
      document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective), { once: true })
    );
    const outcome = await fetch('http://127.0.0.1:9/beacon').then(
      () => 'fetched',
      () => 'refused'
    );
    return { outcome, directive: await violation };
  });
  expect(refused).toEqual({ outcome: 'refused', directive: 'connect-src' });
  expect(requests).toEqual([]);
});

test('offline verifier: served at /verify-offline.html with its policy, offered by the Verify page', async ({
  page,
  request
}) => {
  const res = await request.get('/verify-offline.html');
  expect(res.status()).toBe(200);
  const csp = res.headers()['content-security-policy'];
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("connect-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(await res.text()).toBe(readFileSync(FILE, 'utf8'));

  await page.goto('/verify');
  const link = page.getByRole('link', { name: 'Download the offline verifier' });
  const downloading = page.waitForEvent('download');
  await link.click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('verify-offline.html');
  expect(readFileSync((await download.path())!, 'utf8')).toBe(readFileSync(FILE, 'utf8'));
});

test("time-stamp roots from a PEM file: trusted with the TSA's root; without it, or with another, a notice", async ({
  page
}) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-ts-bundle-'));
  const made = JSON.parse(
    execFileSync(process.execPath, ['tests/e2e/support/timestamped-bundle.ts', '--out', dir], {
      cwd: ROOT,
      encoding: 'utf8'
    })
  ) as { genTime: string; tsa: string };
  const bundle = path.join(dir, 'bundle.json');
  const garbage = path.join(dir, 'broken.pem');
  writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');

  for (const where of ['offline', 'app'] as const) {
    const problems = watch(page);
    let requests: string[] = [];
    if (where === 'offline') requests = await openOffline(page);
    else await page.goto('/verify');
    const run = async (roots: string[]) => {
      await page.locator('#bundle-file').setInputFiles(bundle);
      await page.locator('#bundle-roots').setInputFiles(roots);
      await expect(page.getByTestId('bundle-roots-chosen')).toHaveText(
        roots.length ? `Roots: ${roots.map((r) => path.basename(r)).join(', ')}` : 'No roots added.'
      );
      await page.getByTestId('verify-bundle').click();
    };

    // No roots: valid, the token reported but not trusted, no time claimed.
    await run([]);
    await expect(page.getByTestId('bundle-valid')).toBeVisible();
    await expect(page.getByTestId('bundle-notices')).toContainText('is not trusted');
    await expect(page.getByTestId('bundle-report')).toContainText('No trusted time-stamp covers these events');
    await expect(page.getByTestId('bundle-report')).not.toContainText(`no later than ${made.genTime}`);

    // The TSA's root: the time is proven.
    await run([path.join(dir, 'root.pem')]);
    await expect(page.getByTestId('bundle-valid')).toBeVisible();
    await expect(page.getByTestId('bundle-report')).toContainText(
      `existed no later than ${made.genTime} according to ${made.tsa}`
    );
    await expect(page.getByTestId('bundle-notices')).toHaveCount(0);
    await expect(page.getByTestId('bundle-roots-used')).toHaveText('Checked against 1 trusted time-stamp root.');
    if (where === 'offline') await page.screenshot({ path: `${SHOTS}verify-offline-timestamp.png`, fullPage: true });

    // Another root: still valid, not trusted.
    await run([path.join(dir, 'other-root.pem')]);
    await expect(page.getByTestId('bundle-valid')).toBeVisible();
    await expect(page.getByTestId('bundle-notices')).toContainText('is not trusted');

    // A roots file that is not one: said so, and no verdict.
    await run([garbage]);
    await expect(page.getByTestId('bundle-error')).toContainText('The trusted roots could not be read');
    await expect(page.getByTestId('bundle-error')).toContainText('broken.pem');
    await expect(page.getByTestId('bundle-verdict')).toHaveCount(0);

    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
    await page.unrouteAll();
  }
});
