/** Helpers for the Asset, Verify, Settings and offline e2e tests. */
import { expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SHOTS = path.join(ROOT, 'test-results/screenshots/');
export const PASSPHRASE = 'correct horse battery';

/** Fails the test on page errors, CSP violations, console errors and dialogs. */
export function watch(page: Page): string[] {
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

export interface Seed {
  dir: string;
  ledger: string;
  backup: string;
  chunks: string;
  ledgerId: string;
  tampered?: string;
  outputs: { name: string; sha256: string }[];
}

/** A ledger made in Node by the real core (tests/e2e/support/seed-ledger.ts). */
export function seed(opts: { outputs?: string[]; events?: number; chunks?: boolean; tamper?: boolean } = {}): Seed {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-seed-'));
  const args = ['tests/e2e/support/seed-ledger.ts', '--out', dir];
  for (const o of opts.outputs ?? []) args.push('--output', o);
  if (opts.events) args.push('--events', String(opts.events));
  if (opts.chunks) args.push('--chunks');
  if (opts.tamper) args.push('--tamper');
  const out = JSON.parse(execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 }));
  return {
    dir,
    ledger: path.join(dir, 'ledger.jsonl'),
    backup: path.join(dir, 'key-backup.json'),
    chunks: path.join(dir, 'chunks.json'),
    ...out
  };
}

/** On a fresh device: restore the seed's key, then import its ledger, through the Settings page. */
export async function restoreAndImport(page: Page, s: Seed): Promise<void> {
  await page.goto('/settings');
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  await page.getByLabel('Key backup file').setInputFiles(s.backup);
  await page.getByLabel('Backup passphrase').fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Restore key' }).click();
  await expect(page.getByTestId('restore-ok')).toContainText('Key restored', { timeout: 30_000 });
  await page.getByTestId('import-file').setInputFiles(s.ledger);
  await expect(page.getByTestId('import-ok')).toContainText('Imported', { timeout: 60_000 });
  await expect(page.getByTestId('ledger-name')).toHaveText('Studio Nord');
}

/** Writes raw storage chunks (from seed --chunks) into the app's IndexedDB, then reloads. */
export async function loadChunks(page: Page, s: Seed): Promise<void> {
  const chunks = JSON.parse(readFileSync(s.chunks, 'utf8')) as [string, string][];
  await page.evaluate(async (chunks) => {
    const db: IDBDatabase = await new Promise((res, rej) => {
      const r = indexedDB.open('provenance-ledger', 1);
      r.onupgradeneeded = () => r.result.createObjectStore('chunks');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    await new Promise<void>((res, rej) => {
      const tx = db.transaction('chunks', 'readwrite');
      for (const [k, b64] of chunks)
        tx.objectStore('chunks').put(
          Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
          k
        );
      tx.oncomplete = () => res();
      tx.onerror = () => rej(tx.error);
    });
    db.close();
  }, chunks);
  await page.reload();
}

/** Pixel statistics of a canvas (WebGL with preserveDrawingBuffer), read back in the page. */
export async function canvasStats(page: Page, testid: string): Promise<{ variance: number; distinct: number }> {
  return page.getByTestId(testid).evaluate((c: HTMLCanvasElement) => {
    const w = Math.min(c.width, 400);
    const h = Math.min(c.height, 250);
    const copy = document.createElement('canvas');
    copy.width = w;
    copy.height = h;
    const ctx = copy.getContext('2d')!;
    ctx.drawImage(c, 0, 0, w, h);
    const d = ctx.getImageData(0, 0, w, h).data;
    let sum = 0;
    let sq = 0;
    const colors = new Set<number>();
    for (let i = 0; i < d.length; i += 4) {
      const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += l;
      sq += l * l;
      colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    }
    const n = d.length / 4;
    return { variance: sq / n - (sum / n) ** 2, distinct: colors.size };
  });
}
