/**
 * Team sync between real peers: two Chromium instances (two `chromium.launch`es, each with its own profile,
 * worker and IndexedDB) through a real relay process; the same over WebRTC data channels inside a network
 * namespace with a default route (the relay only signals); and a CLI ledger with a browser, including a
 * hostile peer whose frames show up on the Team page as refusals with their codes. Over the relay, the owner
 * also changes the member's role on the Team page and the change reaches the member's browser. No mocks.
 */
import { test, expect, type Browser, type Page } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLedger, glb, nav, recordGeneration, watch } from './flows.ts';
import { SHOTS } from './support/app.ts';
import {
  ROOT,
  expectNoSideScroll,
  joinTeam,
  launch,
  makeInvite,
  makeNetns,
  peerOnline,
  startAppServer,
  startProcess,
  startRelay,
  startSync,
  stop
} from './support/team.ts';

test.describe.configure({ mode: 'serial' });

const generation = (project: string) => ({
  platform: 'Meshy',
  project,
  classification: 'confidential' as const,
  prompt: `secret prompt for ${project}`,
  files: [{ name: `${project}.glb`, mimeType: 'model/gltf-binary', buffer: glb(64, project) }],
  noPolicies: true
});

async function open(browser: Browser, baseURL: string): Promise<{ page: Page; problems: string[] }> {
  const ctx = await browser.newContext({ baseURL, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  return { page, problems: watch(page) };
}

/** The Team page's log shows `n` or more accepted events from peers. */
const accepted = (page: Page) => expect(page.getByTestId('log-accepted').first()).toBeVisible({ timeout: 30_000 });

async function twoBrowsersSync(
  a: Page,
  b: Page,
  relay: string,
  over: { relay: boolean; webrtc: boolean; tabs: boolean },
  transport: string
) {
  await createLedger(a, 'Ada Admin', 'Studio Sync');
  const code = await makeInvite(a, relay);
  await joinTeam(b, code, 'Bea Member', relay);
  await expect(b.getByTestId('ledger-name')).toHaveText('Studio Sync');
  await expect(b.getByTestId('members').getByTestId('member-row')).toHaveCount(2);
  await expect(a.getByTestId('invite-state')).toHaveText('joined');

  await startSync(a, relay, over);
  await startSync(b, relay, over);
  await peerOnline(a, 'Bea Member', transport);
  await peerOnline(b, 'Ada Admin', transport);

  // One new event each way, recorded while both are connected.
  await recordGeneration(a, generation('Nightjar'));
  await nav(b, 'Team');
  await accepted(b);
  await nav(b, 'Search');
  await expect(b.getByText('Nightjar').filter({ visible: true }).first()).toBeVisible({ timeout: 15_000 });
  await recordGeneration(b, generation('Kestrel'));
  await nav(a, 'Team');
  await accepted(a);
  await nav(a, 'Search');
  await expect(a.getByText('Kestrel').filter({ visible: true }).first()).toBeVisible({ timeout: 15_000 });
  for (const p of [a, b]) {
    await nav(p, 'Team');
    // Witnessing at each sync: each device's checkpoint is cosigned by the other.
    await expect(p.getByTestId('sync-log')).toContainText("cosigned this device's checkpoint", { timeout: 20_000 });
    await expect(p.getByTestId('peer-row').getByTestId('peer-witnessing')).toContainText(
      "cosigned this device's log at",
      { timeout: 20_000 }
    );
    await expect(p.getByTestId('log-rejected')).toHaveCount(0);
  }
}

/** axe-core's serious and critical violations on the page as it is (evaluated as a11y.e2e.ts does, past the CSP). */
async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window)))
    await page.evaluate(readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(ctx: Document): Promise<{ violations: { id: string; impact: string; nodes: { html: string }[] }[] }>;
        };
      }
    ).axe;
    const r = await axe.run(document);
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 120)).join(' | ')}`);
  });
}

const memberRow = (page: Page, name: string) =>
  page.getByTestId('members').getByTestId('member-row').filter({ hasText: name });

/** Ada (the owner) makes Bea an admin, then a viewer, on her Team page; each change reaches Bea's browser. */
async function changeRoles(a: Page, b: Page) {
  await nav(a, 'Team');
  // Ada, the only owner, is offered no role for herself; for Bea, every role the rules let an owner give.
  await expect(memberRow(a, 'Ada Admin').getByTestId('role-form')).toHaveCount(0);
  const select = a.getByLabel('New role for Bea Member');
  // No role is chosen until the owner picks one: the button alone changes nothing.
  await expect(select.locator('option')).toHaveText(['Choose a role…', 'owner', 'admin', 'viewer']);
  await expect(select).toHaveValue('');
  await a.getByRole('button', { name: 'Change role of Bea Member' }).click();
  await expect(memberRow(a, 'Bea Member').locator('td').nth(1)).toHaveText('member');
  expect(await select.evaluate((e: HTMLSelectElement) => e.validity.valueMissing)).toBe(true);
  expect(await axeViolations(a)).toEqual([]);
  await select.selectOption('admin');
  await a.getByRole('button', { name: 'Change role of Bea Member' }).click();
  await expect(a.getByRole('status').filter({ hasText: 'Bea Member is now an admin (was member)' })).toBeVisible();
  await a.screenshot({ path: `${SHOTS}team-02-role-changed.png`, fullPage: true });
  // On a phone-sized screen the populated page does not scroll sideways (wide tables scroll inside their card).
  await expectNoSideScroll(a);
  await expect(memberRow(a, 'Bea Member').locator('td').nth(1)).toHaveText('admin');
  await expect(a.getByLabel('New role for Bea Member').locator('option')).toHaveText([
    'Choose a role…',
    'owner',
    'member',
    'viewer'
  ]);
  await expect(a.getByLabel('New role for Bea Member')).toHaveValue(''); // nothing preselected after a change either
  await expect(a.getByTestId('sync-log')).toContainText('Bea Member is now an admin');

  // Bea's browser receives the change: it is an admin there too, and may now invite.
  await nav(b, 'Team');
  await expect(memberRow(b, 'Bea Member').locator('td').nth(1)).toHaveText('admin', { timeout: 20_000 });
  await expect(b.getByTestId('make-invite')).toBeVisible();
  await expect(b.getByTestId('role-form')).toHaveCount(0); // an admin changes no owner's or admin's role

  // With the keyboard: Ada makes Bea a viewer.
  const again = a.getByLabel('New role for Bea Member');
  await again.focus();
  await again.selectOption('viewer');
  await a.keyboard.press('Tab');
  await expect(a.getByRole('button', { name: 'Change role of Bea Member' })).toBeFocused();
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('role-done')).toHaveText(
    'Bea Member is now a viewer (was admin). The other devices learn it at their next sync.'
  );
  await expect(b.getByText('Only an owner or admin can invite.')).toBeVisible({ timeout: 20_000 });
  await expect(memberRow(b, 'Bea Member').locator('td').nth(1)).toHaveText('viewer');
  await expect(a.getByTestId('role-error')).toHaveCount(0);
}

test('two Chromium instances sync through the relay', async () => {
  test.setTimeout(180_000);
  const relay = await startRelay();
  const [ba, bb] = [await launch(), await launch()];
  try {
    const base = process.env.E2E_BASE_URL!;
    const a = await open(ba, base);
    const b = await open(bb, base);
    await twoBrowsersSync(a.page, b.page, relay.url, { relay: true, webrtc: false, tabs: false }, 'relay');
    await changeRoles(a.page, b.page);
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  } finally {
    await ba.close();
    await bb.close();
    await stop(relay.child);
  }
});

test('two Chromium instances sync over WebRTC data channels, the relay used only for signaling', async () => {
  test.setTimeout(180_000);
  // Chromium gathers no ICE candidates without a default route: the browsers, the app server and the relay
  // run in a network namespace that has one (its own veth address in a private test subnet).
  const ns = makeNetns();
  const relay = await startRelay(ns.exec);
  const app = await startAppServer(ns.exec);
  const [ba, bb] = [await launch(ns.chromium), await launch(ns.chromium)];
  try {
    const a = await open(ba, app.url);
    const b = await open(bb, app.url);
    await twoBrowsersSync(a.page, b.page, relay.url, { relay: false, webrtc: true, tabs: false }, 'webrtc');
    await expect(a.page.getByTestId('peer-row').getByTestId('peer-transports')).toHaveText('webrtc');
    await expect(a.page.getByTestId('sync-running')).toContainText('Running over: webrtc');
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  } finally {
    await ba.close();
    await bb.close();
    await stop(app.child);
    await stop(relay.child);
    ns.destroy();
  }
});

test('a CLI ledger and a browser sync through the relay; a hostile peer is refused and shown on the Team page', async () => {
  test.setTimeout(180_000);
  const relay = await startRelay();
  const tmp = mkdtempSync(path.join(tmpdir(), 'pl-team-e2e-'));
  const dir = path.join(tmp, 'cli');
  const bin = path.join(ROOT, 'bin/provenance-ledger.js');
  const cli = (...args: string[]) =>
    execFileSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const browser = await launch();
  try {
    cli('init', '--ledger', dir, '--name', 'Carl CLI', '--ledger-name', 'Studio CLI');
    // The CLI's invite code, answered by the browser.
    const inv = await startProcess(
      process.execPath,
      [bin, 'invite', '--ledger', dir, '--relay', relay.url, '--json'],
      /"code": "([A-Z0-9-]+)"/
    );
    const invDone = new Promise<string>((res) => inv.child.on('exit', () => res(inv.output())));
    const { page, problems } = await open(browser, process.env.E2E_BASE_URL!);
    await joinTeam(page, inv.match[1], 'Bea Browser', relay.url);
    await expect(page.getByTestId('ledger-name')).toHaveText('Studio CLI');
    expect(await invDone).toContain('joined');

    await startSync(page, relay.url, { relay: true, webrtc: false, tabs: false });
    await recordGeneration(page, generation('Browserbird'));
    const out = path.join(tmp, 'cli-model.glb');
    writeFileSync(out, glb(32, 'cli'));
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
      'Clifield',
      '--classification',
      'client',
      '--prompt',
      'a secret CLI prompt'
    );
    // --json prints one document per thing that happened (pretty-printed); the last is the summary.
    const docs = cli('sync', '--ledger', dir, '--relay', relay.url, '--once', '--json')
      .trim()
      .split(/\n(?=\{)/);
    const sync = JSON.parse(docs.at(-1)!);
    expect(sync.rejected).toEqual([]);
    expect(sync.accepted.length).toBe(1); // the browser's generation
    expect(sync.events).toBe(4); // genesis, the member add, one generation from each side
    await nav(page, 'Team');
    await accepted(page);
    await nav(page, 'Search');
    await expect(page.getByText('Clifield').filter({ visible: true }).first()).toBeVisible({ timeout: 20_000 });
    await nav(page, 'Team');
    await peerOnline(page, 'Carl CLI', 'relay').catch(() => undefined); // the CLI may have left already
    await expect(page.getByTestId('peer-row').filter({ hasText: 'Carl CLI' })).toBeVisible();

    // Witnessing at sync: the browser cosigned the CLI's checkpoint, so the CLI's bundle is witnessed by Bea.
    expect(sync.witnessed.map((w: { name: string }) => w.name)).toContain('Bea Browser');
    await expect(page.getByTestId('sync-log')).toContainText("Cosigned Carl CLI's checkpoint");
    await expect(
      page.getByTestId('peer-row').filter({ hasText: 'Carl CLI' }).getByTestId('peer-witnessing')
    ).toContainText('its log cosigned here at');
    const bundle = path.join(tmp, 'cli-model.bundle.json');
    cli('prove', out, '--ledger', dir, '--out', bundle);
    const verified = cli('verify-bundle', bundle, '--file', out);
    expect(verified).toMatch(/^VALID/);
    expect(verified).toMatch(
      /cli-model\.glb \(sha256 [0-9a-f]{64}\) was recorded as output of a generation on Tripo .*by Carl CLI .*; witnessed by Bea Browser at /
    );

    // A hostile peer in the team's room: its frames are refused, with codes, and shown as text.
    await expect(page.getByTestId('log-rejected')).toHaveCount(0);
    const hostile = spawn(process.execPath, ['tests/e2e/support/hostile-peer.ts', dir, relay.url], {
      cwd: ROOT,
      stdio: 'pipe'
    });
    await new Promise((res) => hostile.on('exit', res));
    await expect(page.getByTestId('log-rejected')).toHaveCount(3, { timeout: 15_000 });
    await expect(page.getByTestId('log-code').first()).toHaveText('FRAME_INVALID');
    await expect(page.getByTestId('rejection-count')).toHaveText('3 refused');
    await expect(page.getByTestId('sync-log')).toContainText('does not open with this room');
    expect(problems).toEqual([]);
  } finally {
    await browser.close();
    await stop(relay.child);
    rmSync(tmp, { recursive: true, force: true });
  }
});
