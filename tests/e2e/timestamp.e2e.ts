/**
 * Trusted time in the browser, in real Chromium with real IndexedDB, against a real relay (src/relay/server.ts,
 * forwarding to the TSAs it allows) and a real RFC 3161 TSA (openssl, tests/helpers/tsa.ts):
 * - a fresh profile creates a ledger and records an event; Settings → Trusted time takes the relay and the TSA;
 *   the worker time-stamps its checkpoint through the relay and the panel shows the token: signed by the TSA's
 *   certificate subject, at its genTime, via that relay;
 * - with the TSA failing, the next checkpoint (after another event) is not time-stamped and the failure is shown
 *   with its error; after the TSA recovers, "Time-stamp now" obtains the token and nothing stays pending.
 */
import { test, expect } from '@playwright/test';
import { startRelay, type Relay } from '../../src/relay/server.ts';
import { startTestTsa, type TestTsa } from '../helpers/tsa.ts';
import { SHOTS, createLedger, glb, nav, recordGeneration, watch } from './flows.ts';
import { audit } from './support/axe.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

let tsa: TestTsa;
let relay: Relay;
test.beforeAll(async () => {
  tsa = await startTestTsa();
  relay = await startRelay({ port: 0, tsaAllow: [tsa.url] });
});
test.afterAll(async () => {
  await relay?.close();
  await tsa?.close();
});

test('Settings: a TSA through the relay time-stamps the checkpoints; a failure is shown, and Time-stamp now recovers it', async ({
  page
}) => {
  test.setTimeout(120_000);
  const problems = watch(page);
  await createLedger(page);
  await recordGeneration(page, {
    platform: 'Tripo',
    project: 'Trusted time',
    files: [{ name: 'one.glb', mimeType: 'model/gltf-binary', buffer: glb(16, 'one') }]
  });

  await nav(page, 'Settings');
  const panel = page.getByTestId('timestamps');
  await expect(panel.getByRole('heading', { name: 'Trusted time (RFC 3161)' })).toBeVisible();
  await expect(panel.getByTestId('tsa-none')).toBeVisible();
  // The relay defaults to the team relay, as http.
  await expect(panel.getByTestId('tsa-relay')).toHaveValue('http://127.0.0.1:8787');
  expect(tsa.requests).toBe(0);

  await panel.getByTestId('tsa-relay').fill(relay.httpUrl);
  await panel.getByTestId('tsa-relay-save').click();
  await expect(panel.getByTestId('timestamp-ok')).toHaveText('The relay is saved.');
  await panel.getByTestId('tsa-url').fill(tsa.url);
  await panel.getByTestId('tsa-add').click();
  await expect(panel.getByTestId('tsa-list')).toContainText(tsa.url);

  // The checkpoint of the two events (the ledger's creation and the generation) is time-stamped through the relay.
  const first = panel.locator('[data-testid="timestamp-checkpoint"][data-size="2"]');
  await expect(first.getByTestId('timestamp-token')).toContainText(`Time-stamped by ${tsa.tsaSubject} at `, {
    timeout: 30_000
  });
  await expect(first.getByTestId('timestamp-token')).toContainText(`via relay ${relay.httpUrl} (`);
  await expect(first.getByTestId('timestamp-token').locator('time')).toHaveText(
    /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? UTC$/
  );
  expect(tsa.requests).toBe(1);
  expect(relay.stats().timestamps).toBe(1);
  await expect(panel.getByTestId('timestamp-pending')).toHaveCount(0);
  // The relay forwards to this TSA: no warning about it.
  await expect(panel.getByTestId('tsa-relay-problem')).toHaveCount(0);
  await panel.screenshot({ path: `${SHOTS}timestamp-token.png` });

  // The TSA fails: the next checkpoint is not time-stamped, and the panel says why.
  tsa.setFailing('http-500');
  await recordGeneration(page, {
    platform: 'Meshy',
    project: 'Trusted time',
    files: [{ name: 'two.glb', mimeType: 'model/gltf-binary', buffer: glb(32, 'two') }]
  });
  await nav(page, 'Settings');
  const pending = panel.getByTestId('timestamp-pending');
  await expect(pending).toContainText('Checkpoint of 3 events: not yet time-stamped by', { timeout: 40_000 });
  await expect(pending).toContainText(tsa.url);
  await expect(pending.getByTestId('timestamp-pending-error')).toContainText('HTTP 502');
  const failedRequests = tsa.requests;
  expect(failedRequests).toBeGreaterThanOrEqual(2);
  await expect(panel.locator('[data-testid="timestamp-checkpoint"][data-size="3"]')).toContainText('not time-stamped');
  // The first token is still there.
  await expect(first.getByTestId('timestamp-token')).toContainText(`Time-stamped by ${tsa.tsaSubject}`);
  await panel.screenshot({ path: `${SHOTS}timestamp-pending.png` });
  // The panel with a token, a pending request and its error: no serious or critical axe violations.
  expect(await audit(page)).toEqual([]);

  // The TSA recovers: Time-stamp now obtains the token, and nothing stays pending.
  tsa.setFailing(false);
  await panel.getByTestId('timestamp-now').click();
  await expect(panel.getByTestId('timestamp-ok')).toHaveText(
    'Every listed TSA has time-stamped the newest checkpoint.'
  );
  const second = panel.locator('[data-testid="timestamp-checkpoint"][data-size="3"]');
  await expect(second.getByTestId('timestamp-token')).toContainText(`Time-stamped by ${tsa.tsaSubject} at `);
  await expect(second.getByTestId('timestamp-token')).toContainText(`via relay ${relay.httpUrl} (`);
  await expect(panel.getByTestId('timestamp-pending')).toHaveCount(0);
  expect(tsa.requests).toBe(failedRequests + 1);

  // After a reload, the tokens are read back from IndexedDB.
  await page.reload();
  await expect(
    page
      .getByTestId('timestamps')
      .locator('[data-testid="timestamp-checkpoint"][data-size="3"]')
      .getByTestId('timestamp-token')
  ).toContainText(`Time-stamped by ${tsa.tsaSubject}`);
  await expect(
    page
      .getByTestId('timestamps')
      .locator('[data-testid="timestamp-checkpoint"][data-size="2"]')
      .getByTestId('timestamp-token')
  ).toContainText(`Time-stamped by ${tsa.tsaSubject}`);

  // The relay's 502s are the failures the test caused; nothing else went wrong on the page.
  expect(problems.filter((p) => !/status of 502/.test(p))).toEqual([]);
});
