/**
 * The web app's speed in headless Chromium (Debian's /usr/bin/chromium) with real IndexedDB, against the
 * built app (build/, run `vite build` first) served by scripts/serve.js:
 *
 *   ui_open_10k_ms                    a ledger of 10,000 events opened (page load → dashboard shows the count)
 *   ui_search_10k_ms                  one text search over the 10,000 events (input → result count shown)
 *   browser_sha256_mb_per_s           a 512 MiB file hashed in the ledger worker (Verify page, file picked)
 *   ui_longest_task_ms_while_hashing  the longest main-thread task (PerformanceObserver "longtask") meanwhile
 *
 * Seeding: the ledger is made in Node by the real core (tests/e2e/support/seed-ledger.ts) and imported once
 * through the Settings page (every event verified), the test-only path instead of 10,000 form submissions.
 *
 *   node tests/bench/ui.ts [--json] [--events 10000] [--hash-mib 512]
 *
 * bench.ts calls runUiBench() and merges its keys into its --json output.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface UiBenchResult {
  ui_open_10k_ms: number;
  ui_search_10k_ms: number | null;
  browser_sha256_mb_per_s: number;
  ui_longest_task_ms_while_hashing: number;
}

function serve(): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/serve.js', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.on('data', (b: Buffer) => {
      const m = /running at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(b.toString());
      if (m) resolve({ url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`serve.js exited with ${code}`)));
  });
}

const log = (s: string) => process.stderr.write(`ui bench: ${s}\n`);

export async function runUiBench(opts: { events?: number; hashMiB?: number } = {}): Promise<UiBenchResult> {
  const events = opts.events ?? 10_000;
  const hashMiB = opts.hashMiB ?? 512;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-uibench-'));
  log(`seeding a ledger of ${events} events in Node…`);
  execFileSync(process.execPath, ['tests/e2e/support/seed-ledger.ts', '--out', tmp, '--events', String(events)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });

  const { url, child } = await serve();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']
  });
  try {
    const context = await browser.newContext({ baseURL: url, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(300_000);

    log('importing it through Settings…');
    await page.goto('/settings');
    await page.getByTestId('import-file').setInputFiles(path.join(tmp, 'ledger.jsonl'));
    await page.getByTestId('import-ok').filter({ hasText: 'Imported' }).waitFor();

    // Open: a fresh page load of the dashboard until it shows the event count (best of 3, after one warm-up).
    const opens: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      await page.goto('/');
      await page.getByTestId('count-events').filter({ hasText: String(events) }).waitFor();
      if (i > 0) opens.push(Date.now() - t0);
    }
    const ui_open_10k_ms = Math.min(...opens);
    log(`open: ${opens.join(', ')} ms`);

    // Search: input → the count of matches rendered (median of 5 queries).
    let ui_search_10k_ms: number | null = null;
    await page.goto('/search');
    const hasSearch = await page
      .locator('#s-text')
      .waitFor({ timeout: 30_000 })
      .then(() => true, () => false);
    if (hasSearch) {
      await page.getByTestId('search-count').waitFor();
      const times: number[] = [];
      for (const q of ['harbor', 'asset-123', 'meshy', 'nimbus', 'asset-9999']) {
        times.push(
          await page.evaluate(async (q) => {
            const input = document.querySelector<HTMLInputElement>('#s-text')!;
            const out = document.querySelector('[data-testid="search-count"]')!;
            const before = out.textContent;
            const t0 = performance.now();
            input.value = q;
            input.dispatchEvent(new Event('input', { bubbles: true }));
            await new Promise<void>((resolve) => {
              const check = () => (out.textContent !== before ? resolve() : requestAnimationFrame(check));
              check();
            });
            return performance.now() - t0;
          }, q)
        );
      }
      times.sort((a, b) => a - b);
      ui_search_10k_ms = Math.round(times[2] * 10) / 10;
      log(`search: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    }

    // Hashing: a file of repeated random MiB chunks, picked on the Verify page, hashed in the worker.
    const big = path.join(tmp, 'big.bin');
    const chunk = randomFillSync(Buffer.alloc(1 << 20));
    const fd = openSync(big, 'w');
    for (let i = 0; i < hashMiB; i++) writeSync(fd, chunk);
    closeSync(fd);
    await page.goto('/verify');
    await page.evaluate(() => {
      const w = window as unknown as { __longest: number };
      w.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
      }).observe({ type: 'longtask' });
    });
    const t0 = Date.now();
    await page.locator('#verify-files').setInputFiles(big);
    await page.getByTestId('verify-result').waitFor();
    const seconds = (Date.now() - t0) / 1000;
    const browser_sha256_mb_per_s = Math.round((hashMiB / seconds) * 10) / 10;
    const ui_longest_task_ms_while_hashing = Math.round(await page.evaluate(() => (window as unknown as { __longest: number }).__longest));
    log(`hash: ${hashMiB} MiB in ${seconds.toFixed(2)} s; longest task ${ui_longest_task_ms_while_hashing} ms`);
    return { ui_open_10k_ms, ui_search_10k_ms, browser_sha256_mb_per_s, ui_longest_task_ms_while_hashing };
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const num = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const r = await runUiBench({ events: num('--events'), hashMiB: num('--hash-mib') });
  if (args.includes('--json')) console.log(JSON.stringify(r));
  else for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(36)} ${v}`);
}
