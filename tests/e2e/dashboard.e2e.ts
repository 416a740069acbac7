/**
 * The checklist flow and the dashboard's figures, checked against what was recorded: a policy snapshot and a
 * checklist for one client project, generations with and without them (the gaps), platforms due for review,
 * assets still on the platforms' servers (oldest first), recent activity; hostile names shown as text.
 */
import { test, expect } from '@playwright/test';
import { HOSTILE, SHOTS, createLedger, glb, nav, recordGeneration, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

test('checklist, then the dashboard figures match what was recorded', async ({ page }) => {
  const problems = watch(page);
  await createLedger(page);

  // Empty states first.
  await expect(page.getByTestId('count-generations')).toHaveText('0');
  await expect(page.getByTestId('on-servers')).toContainText('Nothing is waiting for deletion');
  await expect(page.getByTestId('reviews')).toContainText('No platforms yet');
  await expect(page.getByTestId('gaps')).toContainText('No gaps');
  await page.screenshot({ path: `${SHOTS}dashboard-01-empty.png`, fullPage: true });

  // A Tripo privacy policy snapshot.
  await nav(page, 'Policies');
  const pf = page.getByTestId('policy-form');
  await pf.getByLabel('Platform', { exact: true }).fill('Tripo');
  await pf.getByLabel('Policy text', { exact: true }).fill('Tripo privacy policy.\n\nWe never train on your content.');
  await pf.getByRole('button', { name: 'Save snapshot' }).click();
  await expect(page.getByTestId('snapshot-view')).toContainText('Tripo: Privacy policy');

  // The checklist for the client project, guided step by step.
  await nav(page, 'Checklist');
  await expect(page.getByRole('heading', { name: 'Pre-generation checklist' })).toBeVisible();
  const cf = page.getByTestId('checklist-form');
  await cf.getByLabel('Project', { exact: true }).fill('Bronze Robots');
  await cf.getByLabel('Client (under NDA)').check();
  await cf.getByLabel("The client's NDA allows using this platform").check();
  await cf.getByLabel('Platform', { exact: true }).fill('Tripo');
  // The latest Tripo snapshot is suggested.
  await expect(cf.getByTestId('checklist-snapshots').getByRole('checkbox')).toHaveCount(1);
  await expect(cf.getByTestId('checklist-snapshots').getByRole('checkbox')).toBeChecked();
  await cf.getByLabel('I read these and they are still current').check();
  await cf.getByLabel('Training on my content is switched off (opt-out)').check();
  await cf.getByLabel('Private / privacy mode is on').check();
  await cf.getByLabel('Metadata (EXIF, GPS, author) stripped from reference images').check();
  await cf.getByLabel('No client names, logos or project code names in prompts or images').check();
  await expect(page.getByTestId('checklist-progress')).toContainText('3 of 4 steps complete');
  await cf.getByLabel('No faces or personal data of real people').check();
  await expect(page.getByTestId('checklist-progress')).toHaveText('4 of 4 steps complete.');
  await page.screenshot({ path: `${SHOTS}checklist-01-filled.png`, fullPage: true });
  await cf.getByRole('button', { name: 'Record checklist' }).click();
  await expect(page.getByTestId('checklist-recorded')).toContainText('Checklist recorded for Bronze Robots');
  await expect(page.getByTestId('checklist-history')).toHaveCount(1);
  await expect(page.getByTestId('checklist-history')).toContainText('4 of 4 done');
  await page.screenshot({ path: `${SHOTS}checklist-02-recorded.png`, fullPage: true });

  // Generation 1: Tripo, the client project; the checklist and the snapshot are suggested on the Record page.
  await nav(page, 'Record');
  const form = page.getByTestId('generation-form');
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await form.getByLabel('Project', { exact: true }).fill('Bronze Robots');
  await expect(form.getByLabel('Checklist')).not.toHaveValue('');
  await expect(form.getByTestId('policy-picks').getByRole('checkbox')).toBeChecked();
  await recordGeneration(page, {
    platform: 'Tripo',
    project: 'Bronze Robots',
    classification: 'client',
    files: [{ name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: glb(64) }]
  });
  // Generation 2: Meshy, confidential, no checklist, no Meshy snapshot: a gap on both counts.
  await recordGeneration(page, {
    platform: 'Meshy',
    project: HOSTILE,
    classification: 'confidential',
    files: [{ name: `${HOSTILE}.glb`, mimeType: 'model/gltf-binary', buffer: glb(128) }]
  });
  // Generation 3: public work is never a gap.
  await recordGeneration(page, {
    platform: 'Meshy',
    project: 'Open Chairs',
    classification: 'public',
    files: [{ name: 'chair.obj', mimeType: 'text/plain', buffer: Buffer.from('v 0 0 0\n') }]
  });

  await nav(page, 'Dashboard');
  await expect(page.getByTestId('count-generations')).toHaveText('3');
  await expect(page.getByTestId('count-files')).toHaveText('3');
  await expect(page.getByTestId('count-on-servers')).toHaveText('3');
  await expect(page.getByTestId('count-due')).toHaveText('1');
  await expect(page.getByTestId('count-gaps')).toHaveText('1');
  await expect(page.getByTestId('count-events')).toHaveText('6'); // genesis, snapshot, checklist, 3 generations

  // Still on the servers, oldest first.
  await expect(page.getByTestId('on-server')).toHaveCount(3);
  await expect(page.getByTestId('on-server').nth(0)).toContainText('robot.glb');
  await expect(page.getByTestId('on-server').nth(1)).toContainText(`${HOSTILE}.glb`);
  await expect(page.getByTestId('on-server').nth(2)).toContainText('chair.obj');
  // Meshy due (never reviewed), Tripo reviewed.
  await expect(page.locator('[data-testid="review"][data-due="true"]')).toHaveCount(1);
  await expect(page.locator('[data-testid="review"][data-due="true"]')).toContainText('Meshy');
  await expect(page.locator('[data-testid="review"][data-due="true"]')).toContainText('Never reviewed');
  await expect(page.locator('[data-testid="review"][data-due="false"]')).toContainText('Tripo');
  // The one gap: the Meshy confidential generation, missing both.
  const gap = page.getByTestId('gap');
  await expect(gap).toHaveCount(1);
  await expect(gap).toContainText(HOSTILE);
  await expect(gap).toContainText('No checklist');
  await expect(gap).toContainText('No policy snapshot in the 90 days before');
  // Recent activity, newest first.
  await expect(page.getByTestId('recent-event')).toHaveCount(6);
  await expect(page.getByTestId('recent-event').first()).toContainText('chair.obj');
  await expect(page.getByTestId('recent-event').nth(3)).toContainText(
    'Checklist for Bronze Robots on Tripo: 4 of 4 done'
  );
  await expect(page.locator('main img')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}dashboard-02-figures.png`, fullPage: true });

  // Keyboard: the skip link, then the main navigation in tab order.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' })).toBeFocused();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/record$/);

  // Narrow screen: the menu button opens the navigation.
  await page.setViewportSize({ width: 390, height: 844 });
  await nav(page, 'Dashboard');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search' })).toBeHidden();
  await page.screenshot({ path: `${SHOTS}dashboard-03-narrow.png`, fullPage: true });
  await page.getByRole('button', { name: 'Menu' }).click();
  await expect(page.getByRole('button', { name: 'Menu' })).toHaveAttribute('aria-expanded', 'true');
  await page.screenshot({ path: `${SHOTS}dashboard-04-narrow-menu.png` });
  await page.keyboard.press('Escape');
  await expect(page.getByRole('button', { name: 'Menu' })).toHaveAttribute('aria-expanded', 'false');
  expect(problems).toEqual([]);
});
