/**
 * Text from a bundle or the ledger cannot reorder the page (src/lib/ui/bidi-guard.ts). A bundle made by a writer
 * from before labels refused bidirectional controls (the CLI with tests/unit/cli/fixtures/old-writer.ts: a member
 * named `Ada<U+202E>evil`, a project `ab<U+202E>cd`) is checked on the app's Verify page and on the offline
 * verifier opened from disk: the report shows them as `<U+202E>` and the page's text holds none. Text put into
 * the page later, or changed in place, is escaped too; a textarea's value is left as typed.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, watch } from './support/app.ts';

test.use({ baseURL: process.env.E2E_BASE_URL });

const RLO = '\u202e';
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const OFFLINE = pathToFileURL(path.resolve(ROOT, process.env.PL_BUILD_DIR || 'build', 'verify-offline.html')).href;

/** A bundle about robot.glb whose member name and project hold a right-to-left override. */
function oldBundle(): { bundle: string; file: Buffer } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-bidi-'));
  const L = path.join(dir, 'ledger');
  const file = Buffer.alloc(1000, 7);
  writeFileSync(path.join(dir, 'robot.glb'), file);
  const pl = (old: boolean, ...args: string[]) =>
    execFileSync(
      process.execPath,
      [
        ...(old ? ['--import', path.join(ROOT, 'tests/unit/cli/fixtures/old-writer.ts')] : []),
        path.join(ROOT, 'bin/provenance-ledger.js'),
        ...args,
        '--ledger',
        L
      ],
      { cwd: dir, stdio: 'pipe' }
    );
  pl(true, 'init', '--name', `Ada${RLO}evil`);
  pl(
    true,
    'record',
    'generation',
    '--platform',
    'Tripo',
    '--prompt',
    'p',
    '--output',
    'robot.glb',
    '--project',
    `ab${RLO}cd`,
    '--classification',
    'public'
  );
  pl(false, 'prove', 'robot.glb', '--out', path.join(dir, 'bundle.json'), '--unwitnessed');
  return { bundle: readFileSync(path.join(dir, 'bundle.json'), 'utf8'), file };
}

async function check(page: Page, b: { bundle: string; file: Buffer }): Promise<void> {
  expect(b.bundle).toContain(RLO); // the bundle itself holds the raw character
  await page
    .locator('#bundle-file')
    .setInputFiles({ name: 'bundle.json', mimeType: 'application/json', buffer: Buffer.from(b.bundle) });
  await page
    .locator('#bundle-files')
    .setInputFiles({ name: 'robot.glb', mimeType: 'application/octet-stream', buffer: b.file });
  await page.getByTestId('verify-bundle').click();
  await expect(page.getByTestId('bundle-valid')).toBeVisible();
  const report = page.getByTestId('bundle-report');
  await expect(report).toContainText('Ada<U+202E>evil');
  await expect(report).toContainText('ab<U+202E>cd');
  expect(await page.evaluate(() => document.body.textContent ?? '')).not.toMatch(BIDI);
}

test('a bundle whose labels hold a right-to-left override: shown escaped on the Verify page and offline', async ({
  page
}) => {
  const problems = watch(page);
  const b = oldBundle();
  await page.goto('/verify');
  await check(page, b);

  // Text added later and text changed in place are escaped before they are painted; a textarea is left alone.
  const after = await page.evaluate(async () => {
    const p = document.createElement('p');
    p.textContent = 'added \u202eevil';
    document.querySelector('main')!.append(p);
    const span = document.createElement('span');
    span.textContent = 'plain';
    p.append(span);
    await Promise.resolve();
    span.firstChild!.nodeValue = 'changed \u2067x\u2069';
    const ta = document.createElement('textarea');
    ta.textContent = 'typed \u200f';
    p.append(ta);
    await new Promise((r) => setTimeout(r, 0));
    return { p: p.firstChild!.nodeValue, span: span.textContent, ta: ta.value };
  });
  expect(after).toEqual({ p: 'added <U+202E>evil', span: 'changed <U+2067>x<U+2069>', ta: 'typed \u200f' });
  expect(problems).toEqual([]);

  const offline = await page.context().newPage();
  await offline.route('**/*', (route) =>
    route.request().url() === OFFLINE ? route.continue() : route.abort('blockedbyclient')
  );
  await offline.goto(OFFLINE);
  await check(offline, b);
});
