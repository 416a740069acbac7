/**
 * Warnings before signing and policy changes assessed, in real Chromium:
 *  - a snapshot retrieved 431 days ago warns on the checklist (which says how old it is when "still current" is
 *    ticked) and on the Record page; a snapshot of another platform picked on the checklist warns;
 *  - a new snapshot whose answer changed shows "training on inputs: Not stated → Yes" before signing and on the
 *    snapshot view, with the generation recorded under the previous terms; its plain-text diff keeps the lines
 *    and marks only the changed one; the red flag then warns on a client checklist and generation.
 */
import { test, expect, type Page } from '@playwright/test';
import { SHOTS, createLedger, glb, nav, recordGeneration, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

const DAY = 86_400_000;
const ymd = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

const TRIPO = `Tripo Privacy Policy
Last updated: 1 March 2025

We collect the prompts you type.
We collect the images you upload.`;

const V1 = `Meshy Privacy Policy
Last updated: 1 January 2026

1. What we collect
We collect the prompts you type.
We collect the images you upload.
We collect usage data.

2. How we use it
We use your content to provide the service.
We do not sell your data.

3. Retention
We keep files for 30 days after you delete them.
Backups are encrypted.`;

const V2 = V1.replace(
  'We use your content to provide the service.',
  'We use your content to provide the service and to train our models.'
);

async function snapshot(
  page: Page,
  o: {
    platform: string;
    text: string;
    date?: string;
    answers?: Record<string, string>;
    carry?: boolean;
    save?: boolean;
  }
) {
  // The Policies link leads to /policies, where the new-snapshot form is shown (with ?snapshot= a snapshot is).
  await nav(page, 'Policies');
  await expect(page).toHaveURL(/\/policies$/);
  const form = page.getByTestId('policy-form');
  await expect(form).toBeVisible();
  await form.getByLabel('Platform', { exact: true }).fill(o.platform);
  if (o.date) await form.getByLabel('Retrieved on').fill(o.date);
  await form.getByLabel('Policy text', { exact: true }).fill(o.text);
  if (o.carry) await form.getByRole('button', { name: 'Start from its answers' }).click();
  for (const [key, v] of Object.entries(o.answers ?? {})) {
    await form.locator(`[data-testid="question"][data-key="${key}"]`).getByLabel(v, { exact: true }).check();
  }
  if (o.save !== false) {
    await form.getByRole('button', { name: 'Save snapshot' }).click();
    await expect(page.getByTestId('snapshot-view')).toContainText(`${o.platform}: Privacy policy`);
  }
  return form;
}

test('a stale snapshot warns on the checklist and the Record page; a snapshot of another platform warns', async ({
  page
}) => {
  const problems = watch(page);
  await createLedger(page);
  const then = new Date(Date.now() - 431 * DAY);
  // A retrieval date without a time is midnight UTC of that day, and the age is counted in whole days from it
  // (insights.ts); a run that crosses midnight UTC may show the next day's count, never another.
  const age0 = Math.floor((Date.now() - Date.parse(`${ymd(then)}T00:00:00.000Z`)) / DAY);
  const age = `(${age0}|${age0 + 1})`;
  await snapshot(page, {
    platform: 'Tripo',
    text: TRIPO,
    date: ymd(then),
    answers: { trainingOnInputs: 'No', optOutAvailable: 'Yes' }
  });

  // The checklist: the stale snapshot is suggested, and named with its age before anything is ticked.
  await nav(page, 'Checklist');
  const form = page.getByTestId('checklist-form');
  await form.getByLabel('Project', { exact: true }).fill('Robot Client');
  // A snapshot picked before the platform was typed, then another platform typed: it warns.
  await form
    .getByTestId('checklist-snapshots')
    .getByRole('checkbox', { name: /Tripo · Privacy policy/ })
    .check();
  await form.getByLabel('Platform', { exact: true }).fill('Meshy');
  const warnings = form.getByTestId('policy-warnings');
  await expect(warnings.getByTestId('warning-other-snapshots')).toContainText(
    'of another platform: Tripo privacy policy'
  );
  await page.screenshot({ path: `${SHOTS}policy-warnings-03-checklist-other-platform.png`, fullPage: true });
  await form.getByLabel('Platform', { exact: true }).fill('Tripo');
  await expect(warnings.getByTestId('warning-other-snapshots')).toHaveCount(0);
  await expect(warnings.getByTestId('warning-stale')).toContainText(`Tripo privacy policy retrieved`);
  await expect(warnings.getByTestId('warning-stale')).toContainText(new RegExp(`${age} days old`));
  await expect(warnings.getByTestId('warning-no-fresh')).toContainText('listed under Gaps on the Dashboard');
  await expect(warnings.getByTestId('warning-red-flags')).toHaveCount(0);
  // "Still current" is not taken silently: which snapshot, how old, and step 2 stays open.
  await form.getByLabel('I read these and they are still current').check();
  await expect(form.getByTestId('stale-confirm')).toContainText(new RegExp(`Tripo, ${age} days`));
  await expect(form.locator('#s2 .num')).not.toHaveClass(/done/);
  await warnings.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}policy-warnings-01-checklist-stale.png`, fullPage: true });
  await form.getByRole('button', { name: 'Record checklist' }).click();
  await expect(page.getByTestId('checklist-recorded')).toBeVisible();

  // The Record page, before signing: the same stale snapshot, and the same gap the Dashboard will list.
  await nav(page, 'Record');
  const gen = page.getByTestId('generation-form');
  await gen.getByLabel('Platform', { exact: true }).fill('Tripo');
  await gen.getByLabel('Project', { exact: true }).fill('Robot Client');
  await gen.getByLabel('Classification').selectOption('client');
  const rw = gen.getByTestId('policy-warnings');
  await expect(rw.getByTestId('warning-stale')).toContainText(new RegExp(`${age} days old`));
  await expect(rw.getByTestId('warning-no-fresh')).toBeVisible();
  await expect(rw.getByTestId('warning-other-checklist')).toHaveCount(0);
  await rw.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}policy-warnings-02-record-stale.png`, fullPage: true });

  // Recorded anyway (warnings never block): the Dashboard lists it under Gaps, as the warning said.
  await gen
    .getByLabel('Output files')
    .setInputFiles([{ name: 'robot.glb', mimeType: 'model/gltf-binary', buffer: glb(16) }]);
  await gen.getByRole('button', { name: 'Record generation' }).click();
  await expect(page.getByTestId('recorded')).toContainText('Generation recorded');
  await nav(page, 'Dashboard');
  await expect(page.getByTestId('gaps')).toContainText('Robot Client');
  expect(problems).toEqual([]);
});

test('a changed answer is shown before signing and on the snapshot; the plain-text diff keeps lines; red flags warn', async ({
  page
}) => {
  const problems = watch(page);
  await createLedger(page);
  await snapshot(page, { platform: 'Meshy', text: V1, answers: { trainingOnOutputs: 'No', optOutAvailable: 'Yes' } });
  await recordGeneration(page, {
    platform: 'Meshy',
    project: 'Old Terms',
    classification: 'confidential',
    files: [{ name: 'chair.glb', mimeType: 'model/gltf-binary', buffer: glb(8) }]
  });

  // The new snapshot: "training on inputs" goes from Not stated to Yes. Shown before signing.
  const form = await snapshot(page, {
    platform: 'Meshy',
    text: V2,
    carry: true,
    answers: { trainingOnInputs: 'Yes' },
    save: false
  });
  const changes = form.getByTestId('answer-changes');
  await expect(changes.getByTestId('answer-change')).toHaveCount(1);
  await expect(changes.getByTestId('answer-change')).toHaveText(/training on inputs: Not stated → Yes/);
  await expect(changes.getByTestId('answer-change')).toHaveAttribute('data-worse', 'true');
  await expect(changes.getByTestId('generations-under')).toContainText(
    '1 generation recorded on this platform under the previous terms'
  );
  await expect(changes.getByTestId('generation-under')).toContainText('Old Terms');
  const draft = form.getByTestId('policy-diff');
  await expect(draft.getByTestId('added')).toHaveText(['and to train our models']);
  await expect(draft.getByTestId('removed')).toHaveCount(0);
  await changes.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}policy-warnings-04-draft-changes.png`, fullPage: true });
  await form.getByRole('button', { name: 'Save snapshot' }).click();

  // The snapshot view: the same change, the generation under the old terms, the diff by lines.
  const view = page.getByTestId('snapshot-view');
  await expect(view.getByTestId('answer-change')).toHaveText(/training on inputs: Not stated → Yes/);
  await expect(view.getByTestId('generation-under')).toContainText('Old Terms');
  await expect(page.getByTestId('diff-stats')).toContainText('1 passage changed');
  const diff = view.getByTestId('policy-diff');
  // Only the changed line and one line either side; the rest counted, not shown.
  await expect(diff.getByTestId('diff-row')).toHaveCount(3);
  await expect(diff.locator('[data-testid="diff-row"][data-changed="true"]')).toHaveCount(1);
  await expect(diff.getByTestId('diff-row').nth(0)).toContainText('2. How we use it');
  await expect(diff.getByTestId('diff-row').nth(2)).toContainText('We do not sell your data.');
  await expect(diff.getByTestId('diff-skip')).toHaveCount(2);
  await expect(diff).not.toContainText('We collect usage data');
  await expect(diff.getByTestId('added')).toHaveText(['and to train our models']);
  await expect(diff.getByTestId('removed')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}policy-warnings-05-snapshot-changes.png`, fullPage: true });
  // The whole text: every line its own row, only one marked.
  await view.getByLabel('Show only changed passages').uncheck();
  await expect(diff.getByTestId('diff-row')).toHaveCount(12);
  await expect(diff.locator('[data-testid="diff-row"][data-changed="true"]')).toHaveCount(1);
  await expect(diff.getByTestId('diff-row').nth(3)).toHaveText(
    /We collect the prompts you type\.\s*We collect the prompts you type\./
  );
  await page.screenshot({ path: `${SHOTS}policy-warnings-06-plain-text-diff.png`, fullPage: true });

  // The red flag warns before signing a client checklist and a client generation.
  await nav(page, 'Checklist');
  const cl = page.getByTestId('checklist-form');
  await cl.getByLabel('Project', { exact: true }).fill('Robot Client');
  await cl.getByLabel('Platform', { exact: true }).fill('Meshy');
  await expect(cl.getByTestId('warning-red-flags')).toContainText(
    "Meshy's current privacy policy: training on inputs: Yes"
  );
  await expect(cl.getByTestId('warning-stale')).toHaveCount(0);
  await cl.getByTestId('policy-warnings').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}policy-warnings-07-checklist-red-flag.png`, fullPage: true });
  await cl.getByRole('radio', { name: 'Personal' }).check();
  await expect(cl.getByTestId('policy-warnings')).toHaveCount(0);

  await nav(page, 'Record');
  const gen = page.getByTestId('generation-form');
  await gen.getByLabel('Platform', { exact: true }).fill('Meshy');
  await gen.getByLabel('Project', { exact: true }).fill('Robot Client');
  await gen.getByLabel('Classification').selectOption('client');
  await expect(gen.getByTestId('warning-red-flags')).toContainText('training on inputs: Yes');
  await gen.getByTestId('policy-warnings').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}policy-warnings-08-record-red-flag.png`, fullPage: true });
  expect(problems).toEqual([]);
});

test('the optional questions are answered and shown; the platforms side by side', async ({ page }) => {
  const problems = watch(page);
  await createLedger(page);
  const old = new Date(Date.now() - 200 * DAY);
  await snapshot(page, {
    platform: 'Tripo',
    text: TRIPO,
    date: ymd(old),
    answers: { trainingOnInputs: 'Yes', contentLicense: 'Yes' }
  });
  const view = page.getByTestId('snapshot-view');
  await expect(view.locator('[data-testid="answer"][data-key="contentLicense"]')).toHaveAttribute('data-flag', 'red');
  // Unanswered optional questions are not recorded, so not shown.
  await expect(view.locator('[data-testid="answer"][data-key="outputsOwned"]')).toHaveCount(0);
  await snapshot(page, {
    platform: 'Meshy',
    text: V1,
    answers: { trainingOnInputs: 'No', outputsOwned: 'Yes', dataProtectionCommitments: 'Yes' }
  });
  await expect(view.locator('[data-testid="answer"][data-key="outputsOwned"]')).toHaveAttribute('data-flag', 'green');

  const cmp = page.getByTestId('platform-comparison');
  await expect(cmp.getByTestId('compare-platform')).toHaveText(['Meshy', 'Tripo']);
  const row = (key: string) => cmp.locator(`[data-testid="compare-row"][data-key="${key}"] td`);
  await expect(row('trainingOnInputs')).toHaveText([/No/, /Yes/]);
  await expect(row('trainingOnInputs').nth(1)).toHaveAttribute('data-flag', 'red');
  await expect(row('contentLicense').nth(1)).toHaveAttribute('data-flag', 'red');
  await expect(row('outputsOwned').nth(0)).toHaveAttribute('data-flag', 'green');
  await expect(row('outputsOwned').nth(1)).toContainText('Not stated');
  await expect(cmp.getByTestId('compare-review').locator('td').nth(1)).toContainText('Overdue');
  await expect(cmp.getByTestId('compare-review').locator('td').nth(0)).not.toContainText('Overdue');
  await expect(cmp.getByTestId('compare-docs').locator('td').nth(0)).toContainText('Privacy policy');
  await cmp.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}policy-warnings-09-platforms-side-by-side.png`, fullPage: true });
  expect(problems).toEqual([]);
});
