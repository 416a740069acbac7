/**
 * Policies: paste a plain-text policy and answer the key questions (flags), then drop a hostile HTML version
 * (read as text, never rendered): the side-by-side diff marks the changed passage; the quarterly reminders
 * download as an RFC 5545 calendar.
 */
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { HOSTILE, SHOTS, createLedger, nav, watch } from './flows.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

const V1 = `Meshy Privacy Policy

We do not use your prompts or uploaded images to train our models.

Generated models may be used to improve our services unless you opt out in Settings.

We retain files for 30 days after deletion, in encrypted backups.

We share data with cloud providers that host our service.`;

const V2_HTML = `<!doctype html><html><head><title>Policy</title><style>body{color:red}</style>
<script>alert('from the policy')</script></head><body>
<h1>Meshy Privacy Policy</h1>
<p>We do not use your prompts or uploaded images to train our models.</p>
<p>Generated models may be used to improve our services unless you opt out in Settings.</p>
<p>We retain files for 180 days after deletion, in encrypted backups.</p>
<p>We share data with cloud providers that host our service.</p>
<p>Security: &lt;img src=x onerror=alert(1)&gt; is how attackers probe forms; our staff may access content to investigate abuse.</p>
<img src=x onerror="alert(2)"><iframe src="javascript:alert(3)"></iframe>
</body></html>`;

test('policy snapshots: answers with flags, HTML read as text, diff of the changed passage, .ics reminders', async ({
  page
}) => {
  const problems = watch(page);
  await createLedger(page);
  await nav(page, 'Policies');
  await expect(page.getByRole('heading', { name: 'Policies', level: 1 })).toBeVisible();
  await expect(page.getByText('No snapshots yet')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}policies-01-empty.png`, fullPage: true });

  const form = page.getByTestId('policy-form');
  await form.getByLabel('Platform', { exact: true }).fill('Meshy');
  await form.getByLabel('Document', { exact: true }).selectOption('privacy-policy');
  await form.getByLabel('Version or “last updated”').fill('2026-01');
  await form.getByLabel('Policy text', { exact: true }).fill(V1);
  const q = (key: string) => form.locator(`[data-testid="question"][data-key="${key}"]`);
  await q('trainingOnInputs').getByLabel('No', { exact: true }).check();
  await expect(q('trainingOnInputs').getByTestId('flag')).toHaveText('Green flag');
  await q('trainingOnOutputs').getByLabel('Yes', { exact: true }).check();
  await expect(q('trainingOnOutputs').getByTestId('flag')).toHaveText('Red flag');
  // Excerpts suggested from the text.
  await q('trainingOnOutputs')
    .getByRole('button', { name: /Generated models may be used/ })
    .click();
  await expect(q('trainingOnOutputs').getByLabel('Excerpt')).toHaveValue(/Generated models may be used/);
  await q('optOutAvailable').getByLabel('Yes', { exact: true }).check();
  await q('retentionAfterDeletion').getByLabel('Yes', { exact: true }).check();
  await q('retentionAfterDeletion').getByLabel('Days kept after deletion').fill('30');
  await q('thirdPartySharing').getByLabel('Yes', { exact: true }).check();
  await expect(q('internalAccess').getByTestId('flag')).toHaveText('Unclear');
  await page.screenshot({ path: `${SHOTS}policies-02-form.png`, fullPage: true });
  await form.getByRole('button', { name: 'Save snapshot' }).click();

  const view = page.getByTestId('snapshot-view');
  await expect(view).toContainText('Meshy: Privacy policy');
  await expect(view.locator('[data-testid="answer"][data-key="trainingOnInputs"]')).toHaveAttribute(
    'data-flag',
    'green'
  );
  await expect(view.locator('[data-testid="answer"][data-key="trainingOnOutputs"]')).toHaveAttribute(
    'data-flag',
    'red'
  );
  await expect(view.locator('[data-testid="answer"][data-key="retentionAfterDeletion"]')).toContainText(
    'kept 30 days after deletion'
  );
  await expect(view).toContainText('This is the first privacy policy');

  // The second snapshot, dropped as a hostile HTML file.
  await page.getByRole('link', { name: 'New snapshot' }).click();
  await form.getByLabel('Platform', { exact: true }).fill('Meshy');
  await form
    .getByLabel('Policy file')
    .setInputFiles({ name: `${HOSTILE}.html`, mimeType: 'text/html', buffer: Buffer.from(V2_HTML) });
  await expect(form.getByLabel('HTML (read as text)')).toBeChecked();
  await expect(form.getByRole('status')).toContainText(`Read ${HOSTILE}.html`);
  await form.getByText('Text read from the HTML').click();
  const readable = form.getByTestId('readable-text');
  await expect(readable).toContainText('We retain files for 180 days');
  await expect(readable).toContainText(HOSTILE); // the escaped markup in the policy, as text
  await expect(readable).not.toContainText('from the policy'); // the script's source is not text
  await form.getByRole('button', { name: 'Start from its answers' }).click();
  await expect(q('trainingOnOutputs').getByLabel('Yes', { exact: true })).toBeChecked();
  await q('retentionAfterDeletion').getByLabel('Days kept after deletion').fill('180');
  await q('internalAccess').getByLabel('Yes', { exact: true }).check();
  // The diff against the previous snapshot, while drafting.
  const diff = form.getByTestId('policy-diff');
  await expect(diff.getByTestId('removed')).toContainText(['30']);
  await expect(diff.getByTestId('added').first()).toContainText('180');
  await page.screenshot({ path: `${SHOTS}policies-03-draft-diff.png`, fullPage: true });
  await form.getByRole('button', { name: 'Save snapshot' }).click();

  await expect(view).toContainText('Compared with the snapshot of');
  const saved = view.getByTestId('policy-diff');
  await expect(page.getByTestId('diff-stats')).toContainText('2 passages changed');
  await expect(saved.getByTestId('removed')).toHaveText(['30']);
  await expect(saved.getByTestId('added').first()).toHaveText('180');
  await expect(saved.getByTestId('added').nth(1)).toContainText(HOSTILE);
  // The changed passage is highlighted (a coloured background), the unchanged text is not marked.
  const bg = await saved
    .getByTestId('added')
    .first()
    .evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(bg).not.toBe('rgba(0, 0, 0, 0)');
  // Only changed passages by default, with one unchanged line either side of each.
  await expect(saved).toContainText('We share data with cloud providers');
  await expect(saved).not.toContainText('We do not use your prompts');
  await view.getByLabel('Show only changed passages').uncheck();
  await expect(saved).toContainText('We do not use your prompts');
  await expect(view.locator('[data-testid="answer"][data-key="internalAccess"]')).toHaveAttribute('data-flag', 'red');
  await expect(page.locator('main img, main iframe, main script')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}policies-04-snapshot-diff.png`, fullPage: true });

  // Both snapshots listed; the older one opens with its own text.
  await expect(page.getByTestId('snapshot-link')).toHaveCount(2);
  await page.getByTestId('snapshot-link').nth(1).click();
  await view.getByText('The text, as kept on this device').click();
  await expect(view.getByTestId('snapshot-text')).toContainText('We retain files for 30 days');

  // Quarterly reminders as an iCalendar file.
  const schedule = page.getByTestId('schedule');
  await expect(schedule.getByTestId('schedule-row')).toHaveCount(1);
  await expect(schedule).toContainText('next by');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    schedule.getByRole('button', { name: 'Download reminders (.ics)' }).click()
  ]);
  expect(download.suggestedFilename()).toBe('policy-reviews.ics');
  const ics = readFileSync(await download.path(), 'utf8');
  expect(ics.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:')).toBe(true);
  expect(ics.endsWith('END:VCALENDAR\r\n')).toBe(true);
  expect(ics).toContain('RRULE:FREQ=MONTHLY;INTERVAL=3');
  expect(ics).toContain('SUMMARY:Review Meshy policies');
  expect(ics).toMatch(/DTSTART;VALUE=DATE:\d{8}\r\n/);
  expect(ics).toMatch(/UID:review-meshy-[0-9a-f]{16}@provenance-ledger\r\n/);
  expect(ics.split('\r\n').every((l) => Buffer.byteLength(l) <= 75)).toBe(true);
  expect(ics.replace(/\r\n/g, '')).not.toContain('\n');

  // Reload: the snapshots, texts and diff come back from IndexedDB.
  await page.reload();
  await expect(view).toContainText('Meshy: Privacy policy');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SHOTS}policies-05-narrow.png`, fullPage: true });
  expect(problems).toEqual([]);
});
