/**
 * Offline: after the first visit the service worker has precached the build; with the network cut the app
 * reloads, opens the ledger from IndexedDB, navigates (including a deep link served by the cached shell) and
 * records and verifies.
 */
import { test, expect } from '@playwright/test';
import { SHOTS, watch } from './support/app.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

test('loads and works offline after the first visit', async ({ page, context }) => {
  const problems = watch(page);
  await page.goto('/');
  await page.getByLabel('Your name').fill('Ada Artist');
  await page.getByLabel('Ledger name').fill('Offline Studio');
  await page.getByRole('button', { name: 'Create ledger' }).click();
  await expect(page.getByTestId('ledger-name')).toHaveText('Offline Studio');
  // The service worker is installed, has precached everything and controls the page.
  await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((r) =>
        navigator.serviceWorker.addEventListener('controllerchange', () => r(), { once: true })
      );
    }
    return reg.active?.state;
  });

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByTestId('ledger-name')).toHaveText('Offline Studio');
  await page.goto('/verify');
  await page.getByTestId('verify-ledger').click();
  await expect(page.getByTestId('report-ok')).toContainText('1 event checked');
  await page.goto('/settings');
  await expect(page.getByTestId('identity-name')).toHaveText('Ada Artist');
  await page.goto(`/asset/${'0'.repeat(64)}`);
  await expect(page.getByTestId('asset-unknown')).toContainText('Not in this ledger');
  await page.screenshot({ path: `${SHOTS}offline-asset-unknown.png`, fullPage: true });
  await context.setOffline(false);
  // Errors from the network being cut are expected; app errors are not.
  expect(problems.filter((p) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch|net::/.test(p))).toEqual([]);
});
