/** The built web app served by scripts/serve.js on a free port, for the browser hooks (ui.ts, journal-browser.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Starts scripts/serve.js (PL_BUILD_DIR or build/) on any free port; resolves with its URL once it listens. */
export function serve(): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/serve.js', '--port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit']
    });
    child.stdout!.on('data', (b: Buffer) => {
      const m = /running at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(b.toString());
      if (m) resolve({ url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`serve.js exited with ${code}`)));
  });
}

/** Debian's Chromium, headless (CHROMIUM_PATH overrides the path; no browser is ever downloaded). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']
  });
}
