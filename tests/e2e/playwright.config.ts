/**
 * End-to-end tests in real Chromium (Debian's /usr/bin/chromium; no browser download) against the built app
 * served by scripts/serve.js, exactly as `npm start` serves it. Build first (`vite build`): scripts/test.js
 * does. The server takes any free port and prints its URL, which lands in process.env.E2E_BASE_URL.
 */
import { defineConfig } from '@playwright/test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.e2e.ts',
  outputDir: `${root}test-results/e2e`,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.E2E_BASE_URL,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: 'node scripts/serve.js --port 0',
    cwd: root,
    wait: { stdout: /running at (?<e2e_base_url>http:\/\/127\.0\.0\.1:\d+\/)/ },
    stdout: 'pipe',
    timeout: 30_000,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 2_000 }
  }
});
