/**
 * Search over many events: every filter (text, platform, project, classification, type, date range, author),
 * a virtualized list (only the rows in view are in the DOM), hostile names as text.
 */
import { test, expect } from '@playwright/test';
import { HOSTILE, SHOTS, createLedger, nav, recordGeneration, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

const PLATFORMS = ['Tripo', 'Meshy', 'Rodin'];
const PROJECTS = ['Bronze Robots', 'Open Chairs', HOSTILE, 'Moon Base'];
const CLASSES = ['client', 'public', 'confidential', 'personal'] as const;
const N = 24;

test('search filters over many events, virtualized', async ({ page }) => {
  test.setTimeout(180_000);
  const problems = watch(page);
  await createLedger(page);
  for (let i = 0; i < N; i++) {
    await recordGeneration(page, {
      platform: PLATFORMS[i % 3],
      project: PROJECTS[i % 4],
      classification: CLASSES[i % 4],
      files: [
        {
          name: i === 6 ? `${HOSTILE}.stl` : `part-${String(i).padStart(2, '0')}.stl`,
          mimeType: 'model/stl',
          buffer: Buffer.from(`solid p${i}\nendsolid p${i}\n`)
        }
      ]
    });
  }
  await nav(page, 'Search');
  const count = page.getByTestId('search-count');
  await expect(count).toContainText(`${N + 1} of ${N + 1} events`);
  // Virtualized: fewer rows in the DOM than events, and scrolling brings the oldest into view.
  const rows = page.getByTestId('search-row');
  expect(await rows.count()).toBeLessThan(N + 1);
  await expect(rows.first()).toContainText('part-23.stl');
  await page.screenshot({ path: `${SHOTS}search-01-all.png`, fullPage: true });
  await page.getByTestId('search-results').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(page.getByTestId('search-row').filter({ hasText: 'created by Ada Artist' })).toHaveCount(1);

  const s = page.getByTestId('search-form');
  await s.getByLabel('Text').fill('part-07');
  await expect(count).toContainText(`1 of ${N + 1}`);
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText('part-07.stl');
  await s.getByLabel('Text').fill('');

  await s.getByLabel('Platform').selectOption('Meshy');
  await expect(count).toContainText(`${N / 3} of`);
  await s.getByLabel('Project').selectOption('Bronze Robots');
  // i % 3 == 1 and i % 4 == 0: i = 4, 16.
  await expect(count).toContainText(`2 of`);
  await expect(rows).toHaveCount(2);
  await s.getByLabel('Classification').selectOption('public');
  await expect(page.getByTestId('search-empty')).toContainText('No events match');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(count).toContainText(`${N + 1} of ${N + 1}`);

  await s.getByLabel('Project').selectOption(HOSTILE);
  await expect(count).toContainText(`${N / 4} of`);
  await expect(rows.filter({ hasText: `${HOSTILE}.stl` })).toHaveCount(1);
  await expect(page.locator('main img')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}search-02-hostile.png`, fullPage: true });
  await page.getByRole('button', { name: 'Clear filters' }).click();

  await s.getByLabel('Type').selectOption('member');
  await expect(count).toContainText(`1 of`);
  await s.getByLabel('Type').selectOption('generation');
  await expect(count).toContainText(`${N} of`);
  await s.getByLabel('Classification').selectOption('client');
  await expect(count).toContainText(`${N / 4} of`);
  await s.getByLabel('Author').selectOption({ label: 'Ada Artist' });
  await expect(count).toContainText(`${N / 4} of`);
  await page.getByRole('button', { name: 'Clear filters' }).click();

  // Date range: today holds everything, yesterday nothing.
  const day = (d: Date) =>
    `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  await s.getByLabel('From').fill(day(today));
  await s.getByLabel('To').fill(day(today));
  await expect(count).toContainText(`${N + 1} of`);
  await s.getByLabel('From').fill(day(yesterday));
  await s.getByLabel('To').fill(day(yesterday));
  await expect(count).toContainText(`0 of`);
  await page.getByRole('button', { name: 'Clear filters' }).click();

  // Filtering is measured in the page: far under 50 ms here.
  const ms = Number(await page.getByTestId('search-time').getAttribute('data-ms'));
  expect(ms).toBeLessThan(50);

  // A generation's row links to its asset.
  await expect(rows.first().getByRole('link')).toHaveAttribute('href', /^\/asset\/[0-9a-f]{64}$/);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SHOTS}search-03-narrow.png`, fullPage: true });
  expect(problems).toEqual([]);
});
