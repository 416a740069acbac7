/**
 * Installable: the web app manifest is linked, served as application/manifest+json, has the fields an install
 * needs and icons that load at their stated sizes (192, 512, a maskable 512); Chromium reports no installability
 * error (CDP Page.getInstallabilityErrors) once the service worker controls the page.
 */
import { test, expect, chromium } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHOTS, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

test('the manifest is valid and Chromium finds the app installable', async ({ page }) => {
  const problems = watch(page);
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBeTruthy();
  const url = new URL(href!, page.url()).href;
  const res = await page.request.get(url);
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toMatch(/^application\/manifest\+json/);
  const m = await res.json();
  expect(m.name).toBe('Provenance Ledger');
  expect(m.short_name).toBeTruthy();
  expect(m.start_url).toBe('/');
  expect(m.display).toBe('standalone');
  expect(m.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  expect(m.background_color).toMatch(/^#[0-9a-f]{6}$/i);
  await expect(page.locator('meta[name="theme-color"]')).toHaveAttribute('content', m.theme_color);
  const sizes = m.icons.map((i: { sizes: string; purpose?: string }) => `${i.sizes} ${i.purpose ?? 'any'}`);
  expect(sizes).toEqual(expect.arrayContaining(['192x192 any', '512x512 any', '512x512 maskable']));
  for (const icon of m.icons as { src: string; sizes: string; type: string }[]) {
    const src = new URL(icon.src, url).href;
    const r = await page.request.get(src);
    expect(r.status(), src).toBe(200);
    expect(r.headers()['content-type']).toBe(icon.type);
    // The image decodes in the page at the size the manifest states.
    const size = await page.evaluate(async (s) => {
      const img = new Image();
      img.src = s;
      await img.decode();
      return `${img.naturalWidth}x${img.naturalHeight}`;
    }, src);
    expect(size, src).toBe(icon.sizes);
  }

  expect(problems).toEqual([]);
});

test('Chromium reports no installability error (a real, non-incognito profile)', async () => {
  // Installing needs a profile on disk: Playwright's usual contexts are incognito ("in-incognito").
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-pwa-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    baseURL: process.env.E2E_BASE_URL,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems = watch(page);
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
    // The service worker controls the page (offline support), then Chromium's own installability check.
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise<void>((r) =>
          navigator.serviceWorker.addEventListener('controllerchange', () => r(), { once: true })
        );
      }
    });
    const cdp = await context.newCDPSession(page);
    const manifest = await cdp.send('Page.getAppManifest');
    expect(manifest.errors).toEqual([]);
    expect(manifest.url).toMatch(/\/manifest\.webmanifest$/);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors).toEqual([]);
    await page.screenshot({ path: `${SHOTS}pwa-installable.png`, fullPage: true });
    expect(problems).toEqual([]);
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
