/**
 * Pages follow events from peers without a reload: a browser in a CLI ledger's team syncs through a real relay;
 * the CLI records and syncs while the browser shows the Dashboard, then Search. The worker's change notice
 * updates the figures and the list in place (no Team page open, no polling, no navigation).
 */
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { glb, nav, watch } from './flows.ts';
import { ROOT, joinTeam, launch, startProcess, startRelay, startSync, stop } from './support/team.ts';

test('the dashboard and search follow a peer’s events without a reload', async () => {
  test.setTimeout(150_000);
  const relay = await startRelay();
  const tmp = mkdtempSync(path.join(tmpdir(), 'pl-refresh-e2e-'));
  const dir = path.join(tmp, 'cli');
  const bin = path.join(ROOT, 'bin/provenance-ledger.js');
  const cli = (...args: string[]) =>
    execFileSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const record = (project: string) => {
    const out = path.join(tmp, `${project}.glb`);
    writeFileSync(out, glb(32, project));
    cli(
      'record',
      'generation',
      '--ledger',
      dir,
      '--platform',
      'Tripo',
      '--output',
      out,
      '--project',
      project,
      '--classification',
      'client',
      '--prompt',
      `a prompt for ${project}`
    );
    cli('sync', '--ledger', dir, '--relay', relay.url, '--once', '--json');
  };
  const browser = await launch();
  try {
    cli('init', '--ledger', dir, '--name', 'Carl CLI', '--ledger-name', 'Studio Live');
    const inv = await startProcess(
      process.execPath,
      [bin, 'invite', '--ledger', dir, '--relay', relay.url, '--json'],
      /"code": "([A-Z0-9-]+)"/
    );
    const invDone = new Promise<string>((res) => inv.child.on('exit', () => res(inv.output())));
    const context = await browser.newContext({
      baseURL: process.env.E2E_BASE_URL,
      viewport: { width: 1280, height: 900 }
    });
    const page = await context.newPage();
    const problems = watch(page);
    await joinTeam(page, inv.match[1], 'Bea Browser', relay.url);
    expect(await invDone).toContain('joined');
    await startSync(page, relay.url, { relay: true, webrtc: false, tabs: false });

    await nav(page, 'Dashboard');
    await expect(page.getByTestId('count-events')).toHaveText('2'); // genesis, Bea's member event
    await expect(page.getByTestId('count-generations')).toHaveText('0');
    // A mark on this document: still there at the end means the page was never reloaded.
    await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));

    record('Livewire');
    await expect(page.getByTestId('count-events')).toHaveText('3', { timeout: 20_000 });
    await expect(page.getByTestId('count-generations')).toHaveText('1');
    await expect(page.getByTestId('count-gaps')).toHaveText('1'); // a client generation, no checklist
    await expect(page.getByTestId('on-server')).toContainText('Livewire.glb');
    await expect(page.getByTestId('recent-event').first()).toContainText('Livewire');

    // Search holds the whole list: the next event joins it in place.
    await nav(page, 'Search');
    await expect(page.getByTestId('search-count')).toContainText('3 of 3 events');
    record('Overnight');
    await expect(page.getByTestId('search-count')).toContainText('4 of 4 events', { timeout: 20_000 });
    await expect(page.getByTestId('search-row').filter({ hasText: 'Overnight' })).toBeVisible();
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    expect(problems).toEqual([]);
  } finally {
    await browser.close();
    await stop(relay.child);
    rmSync(tmp, { recursive: true, force: true });
  }
});
