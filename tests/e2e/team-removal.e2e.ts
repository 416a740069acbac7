/**
 * Member removal and team key rotation between real peers: Chromium instances (each its own `chromium.launch`,
 * profile, worker and IndexedDB) and a CLI ledger, through a real relay process. No mocks.
 *   1. A browser owner removes a CLI member on its Team page: the other browser receives the new epoch's key,
 *      moves to its room and keeps receiving events; the removed CLI device, back on the old epoch, is refused
 *      (shown in the owner's sync log), told it was removed, and its new event reaches nobody.
 *   2. A CLI owner removes a browser member with `provenance-ledger remove`: at its next `sync` the removed
 *      browser is told so on its Team page and stops, and its Record page records nothing more (AUTHOR_REMOVED);
 *      the other browser gets the new key from the CLI and syncs
 *      on the new epoch.
 *   3. A member with two devices: the owner invites another device of a member on its Team page (For: another
 *      device of Bea); the third browser joins as Bea whatever name it types; the owner removes that one device
 *      ("Remove this device"): it is told and stops, Bea's other browser moves to the new epoch and keeps syncing.
 *   4. Over WebRTC alone (in a network namespace with a default route, as team.e2e.ts): the owner removes a
 *      member and hands the new key to the connected browser over the data channels; both go on in the new room.
 */
import { test, expect, type Browser, type Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLedger, glb, nav, recordGeneration, watch } from './flows.ts';
import { audit } from './support/axe.ts';
import { SHOTS } from './support/app.ts';
import {
  ROOT,
  joinTeam,
  launch,
  makeDeviceInvite,
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

const BIN = path.join(ROOT, 'bin/provenance-ledger.js');

/** Runs the CLI without blocking the test (the browsers answer invites and syncs meanwhile); `prefix` runs it in a network namespace. */
function cli(...args: string[]): Promise<{ code: number | null; out: string; json: () => any }> {
  return cliIn([], ...args);
}
function cliIn(prefix: string[], ...args: string[]): Promise<{ code: number | null; out: string; json: () => any }> {
  return new Promise((resolve) => {
    const [cmd, ...rest] = [...prefix, process.execPath, BIN, ...args];
    const child = spawn(cmd, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    // --json prints one document per thing that happened (pretty-printed); the last is the summary.
    child.on('close', (code) =>
      resolve({
        code,
        out,
        json: () =>
          JSON.parse(
            out
              .trim()
              .split(/\n(?=\{)/)
              .at(-1)!
          )
      })
    );
  });
}

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

const memberRow = (page: Page, name: string) =>
  page.getByTestId('members').getByTestId('member-row').filter({ hasText: name });

async function searchShows(page: Page, text: string, shown: boolean) {
  await nav(page, 'Search');
  await expect(page.getByRole('heading', { name: 'Search', level: 1 })).toBeVisible();
  const hit = page.getByText(text).filter({ visible: true }).first();
  if (shown) await expect(hit).toBeVisible({ timeout: 20_000 });
  else await expect(page.getByText(text).filter({ visible: true })).toHaveCount(0);
  await nav(page, 'Team');
}

test('a browser owner removes a CLI member: the other browser moves to the new key epoch and keeps syncing; the removed device is refused', async () => {
  test.setTimeout(240_000);
  const relay = await startRelay();
  const tmp = mkdtempSync(path.join(tmpdir(), 'pl-removal-e2e-'));
  const dir = path.join(tmp, 'carl');
  const [ba, bb] = [await launch(), await launch()];
  try {
    const base = process.env.E2E_BASE_URL!;
    const { page: a, problems: pa } = await open(ba, base);
    const { page: b, problems: pb } = await open(bb, base);
    await createLedger(a, 'Ada Admin', 'Studio Rotation');
    await joinTeam(b, await makeInvite(a, relay.url), 'Bea Member', relay.url);
    await expect(b.getByTestId('ledger-name')).toHaveText('Studio Rotation', { timeout: 45_000 });
    // Carl joins from the CLI with an invite made on Ada's Team page.
    const code = await makeInvite(a, relay.url);
    const joined = await cli('join', code, '--ledger', dir, '--name', 'Carl CLI', '--relay', relay.url, '--json');
    expect(joined.code, joined.out).toBe(0);
    await expect(a.getByTestId('invite-state').last()).toHaveText('joined');

    await startSync(a, relay.url, { relay: true, webrtc: false, tabs: false });
    await startSync(b, relay.url, { relay: true, webrtc: false, tabs: false });
    await peerOnline(a, 'Bea Member', 'relay');
    await expect(b.getByTestId('team-epoch')).toHaveText(/epoch 1$/);
    // Bea holds Carl's member event (from Ada) before Carl first syncs, so she knows him when he connects.
    await expect(memberRow(b, 'Carl CLI')).toBeVisible({ timeout: 20_000 });
    const first = await cli('sync', '--ledger', dir, '--relay', relay.url, '--once', '--wait', '20', '--json');
    expect(first.code, first.out).toBe(0);
    expect(
      first
        .json()
        .peers.map((p: { name: string }) => p.name)
        .sort()
    ).toEqual(['Ada Admin', 'Bea Member']);

    // Ada removes Carl: a confirmation names him and says what it means.
    await nav(a, 'Team');
    await expect(memberRow(a, 'Bea Member').getByTestId('remove-member')).toBeVisible();
    await expect(memberRow(a, 'Ada Admin').getByTestId('remove-member')).toHaveCount(0);
    await memberRow(a, 'Carl CLI').getByTestId('remove-member').click();
    const confirm = a.getByRole('alertdialog', { name: 'Remove Carl CLI from the team?' });
    await expect(confirm).toBeVisible();
    await expect(confirm).toContainText("Carl CLI's device can no longer sync with the team");
    await expect(confirm).toContainText('The team key moves to epoch 2');
    await a.screenshot({ path: `${SHOTS}team-01-remove-member.png`, fullPage: true });
    await expect(confirm).toBeFocused();
    await confirm.getByTestId('confirm-remove').click();
    await expect(a.getByTestId('remove-done')).toContainText('Carl CLI was removed');
    await expect(a.getByTestId('team-epoch')).toHaveText(/epoch 2$/);
    await expect(a.getByTestId('sync-running')).toContainText('also in the room of epoch 1');
    await expect(memberRow(a, 'Carl CLI')).toContainText('removed');
    await expect(memberRow(a, 'Carl CLI').getByTestId('remove-member')).toHaveCount(0);

    // Bea receives epoch 2 from Ada, moves to its room, and has the removal.
    await nav(b, 'Team');
    await expect(b.getByTestId('team-epoch')).toHaveText(/epoch 2$/, { timeout: 30_000 });
    await expect(b.getByTestId('sync-log')).toContainText('New team key (epoch 2) received');
    await expect(memberRow(b, 'Carl CLI')).toContainText('removed', { timeout: 20_000 });
    await expect(b.getByTestId('removed-notice')).toHaveCount(0);
    // And keeps syncing there: a new event of Ada's reaches it.
    await recordGeneration(a, generation('Afterglow'));
    await nav(b, 'Team');
    await searchShows(b, 'Afterglow', true);

    // Carl, unaware, records an event and syncs on the old epoch: Ada refuses him and tells him why.
    const out = path.join(tmp, 'late.glb');
    writeFileSync(out, glb(16, 'late'));
    const rec = await cli(
      'record',
      'generation',
      '--ledger',
      dir,
      '--platform',
      'Tripo',
      '--output',
      out,
      '--project',
      'Latecomer',
      '--classification',
      'client',
      '--prompt',
      'after the removal'
    );
    expect(rec.code, rec.out).toBe(0);
    const late = await cli('sync', '--ledger', dir, '--relay', relay.url, '--once', '--wait', '15', '--json');
    expect(late.code, late.out).toBe(1);
    const summary = late.json();
    expect(summary.removed).toMatchObject({ byName: 'Ada Admin' });
    expect(summary.accepted).toEqual([]);
    expect(summary.peers.map((p: { name: string }) => p.name)).not.toContain('Bea Member');
    expect(readdirSync(path.join(dir, 'team', 'key'))).toEqual([expect.stringMatching(/^1/)]); // never saw epoch 2
    await nav(a, 'Team');
    const refusal = a.getByTestId('log-rejected').filter({ hasText: 'Carl CLI was removed from the team' });
    await expect(refusal.first()).toBeVisible({ timeout: 20_000 });
    await expect(refusal.first().getByTestId('log-code')).toHaveText('PEER_REMOVED');
    await searchShows(a, 'Latecomer', false);
    await searchShows(b, 'Latecomer', false);
    await expect(b.getByTestId('log-rejected')).toHaveCount(0);
    expect(pa).toEqual([]);
    expect(pb).toEqual([]);
  } finally {
    await ba.close();
    await bb.close();
    await stop(relay.child);
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a CLI owner removes a browser member: that browser is told on its Team page; the other browser takes the new key from the CLI', async () => {
  test.setTimeout(240_000);
  const relay = await startRelay();
  const tmp = mkdtempSync(path.join(tmpdir(), 'pl-removal-e2e-'));
  const dir = path.join(tmp, 'carl');
  const [bb, bd] = [await launch(), await launch()];
  let syncing: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    expect((await cli('init', '--ledger', dir, '--name', 'Carl Owner', '--ledger-name', 'Studio CLI Owner')).code).toBe(
      0
    );
    const base = process.env.E2E_BASE_URL!;
    const { page: b, problems: pb } = await open(bb, base);
    const { page: d, problems: pd } = await open(bd, base);
    for (const [page, name] of [
      [b, 'Bea Leaving'],
      [d, 'Dee Staying']
    ] as const) {
      const inv = await startProcess(
        process.execPath,
        [BIN, 'invite', '--ledger', dir, '--relay', relay.url, '--json'],
        /"code": "([A-Z0-9-]+)"/
      );
      const done = new Promise<string>((res) => inv.child.on('exit', () => res(inv.output())));
      await joinTeam(page, inv.match[1], name, relay.url);
      await expect(page.getByTestId('ledger-name')).toHaveText('Studio CLI Owner', { timeout: 45_000 });
      expect(await done).toContain('joined');
    }
    // Bea joined before Dee: a sync with the CLI brings Dee's member event to her before Dee connects.
    await startSync(b, relay.url, { relay: true, webrtc: false, tabs: false });
    const first = await cli('sync', '--ledger', dir, '--relay', relay.url, '--once', '--wait', '20', '--json');
    expect(first.code, first.out).toBe(0);
    await expect(memberRow(b, 'Dee Staying')).toBeVisible({ timeout: 20_000 });
    await startSync(d, relay.url, { relay: true, webrtc: false, tabs: false });
    await peerOnline(d, 'Bea Leaving', 'relay');
    await peerOnline(b, 'Dee Staying', 'relay');

    const removed = await cli('remove', 'Bea Leaving', '--ledger', dir, '--json');
    expect(removed.code, removed.out).toBe(0);
    expect(removed.json()).toMatchObject({ removed: [{ name: 'Bea Leaving' }], teamEpoch: 2 });

    // The CLI syncs in epoch 2's room and in epoch 1's: Bea is refused there and shown the removal.
    syncing = await startProcess(
      process.execPath,
      [BIN, 'sync', '--ledger', dir, '--relay', relay.url],
      /syncing ledger/
    );
    await nav(b, 'Team');
    const notice = b.getByTestId('removed-notice');
    await expect(notice).toBeVisible({ timeout: 30_000 });
    await expect(notice).toContainText('This device was removed from the team');
    await expect(notice).toContainText('Carl Owner removed it');
    await expect(notice).toContainText('It can no longer sync with the team');
    await expect(b.getByTestId('sync-running')).toContainText('Not syncing');
    await expect(b.getByTestId('start-sync')).toBeDisabled();
    // Still so after a reload (the notice is kept).
    await b.reload();
    await expect(b.getByTestId('removed-notice')).toBeVisible();
    await expect(b.getByTestId('sync-running')).toContainText('Not syncing');
    // And Bea's device records nothing more: the Record page's append is refused, saying why; nothing is added.
    await nav(b, 'Record');
    const g = generation('Afterremoval');
    const form = b.getByTestId('generation-form');
    await form.getByLabel('Platform', { exact: true }).fill(g.platform);
    await form.getByLabel('Project', { exact: true }).fill(g.project);
    await form.getByLabel('Classification').selectOption(g.classification);
    await form.getByLabel('Prompt').fill(g.prompt);
    await form.getByLabel('Output files').setInputFiles(g.files);
    await expect(form.getByTestId('output-files').getByTestId('file-row')).toHaveCount(1);
    for (const box of await form.getByTestId('policy-picks').getByRole('checkbox').all()) await box.uncheck();
    await form.getByLabel('Checklist').selectOption('');
    await form.getByRole('button', { name: 'Record generation' }).click();
    const error = b.getByTestId('error');
    await expect(error).toContainText('removed from the team by Carl Owner', { timeout: 20_000 });
    await expect(error).toContainText('it records nothing more in this ledger');
    await expect(error).toContainText('AUTHOR_REMOVED');
    await expect(b.getByTestId('recorded')).toHaveCount(0);
    await searchShows(b, 'Afterremoval', false);

    // Dee receives epoch 2 from the CLI and syncs on it: the removal arrives.
    await nav(d, 'Team');
    await expect(d.getByTestId('team-epoch')).toHaveText(/epoch 2$/, { timeout: 30_000 });
    await expect(memberRow(d, 'Bea Leaving')).toContainText('removed', { timeout: 20_000 });
    await expect(d.getByTestId('removed-notice')).toHaveCount(0);
    await stop(syncing.child);
    expect(syncing.output()).toContain('team key epoch 2');

    // A new CLI event reaches Dee on the new epoch; Bea, removed, gets nothing.
    const out = path.join(tmp, 'new.glb');
    writeFileSync(out, glb(16, 'new'));
    expect(
      (
        await cli(
          'record',
          'generation',
          '--ledger',
          dir,
          '--platform',
          'Tripo',
          '--output',
          out,
          '--project',
          'Newepoch',
          '--classification',
          'client',
          '--prompt',
          'p'
        )
      ).code
    ).toBe(0);
    const again = await cli('sync', '--ledger', dir, '--relay', relay.url, '--once', '--wait', '20', '--json');
    expect(again.code, again.out).toBe(0);
    expect(again.json().peers.map((p: { name: string }) => p.name)).toEqual(['Dee Staying']);
    await searchShows(d, 'Newepoch', true);
    await searchShows(b, 'Newepoch', false);
    // The worker logs the refused append (the one expected error); nothing else.
    expect(
      pb.filter(
        (p) => !p.startsWith('console: ledger worker: LedgerError: this device was removed from the team by Carl Owner')
      )
    ).toEqual([]);
    expect(pd).toEqual([]);
  } finally {
    await stop(syncing?.child);
    await bb.close();
    await bd.close();
    await stop(relay.child);
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a member with two devices: the owner invites a second device of Bea on the Team page, then removes that device only', async () => {
  test.setTimeout(240_000);
  const relay = await startRelay();
  const [ba, bb, bc] = [await launch(), await launch(), await launch()];
  try {
    const base = process.env.E2E_BASE_URL!;
    const { page: a, problems: pa } = await open(ba, base);
    const { page: b, problems: pb } = await open(bb, base);
    const { page: c, problems: pc } = await open(bc, base);
    await createLedger(a, 'Ada Admin', 'Studio Devices');
    await joinTeam(b, await makeInvite(a, relay.url), 'Bea Member', relay.url);
    await expect(b.getByTestId('ledger-name')).toHaveText('Studio Devices', { timeout: 45_000 });

    // Bea's laptop joins with an invite for another device of Bea; whatever name it types, it is Bea's.
    const code = await makeDeviceInvite(a, relay.url, 'Bea Member');
    await joinTeam(c, code, 'Bea Laptop', relay.url);
    await expect(c.getByTestId('joined-as')).toHaveText(
      'This device joined as another device of Bea Member (member): the team knows it by that name, not “Bea Laptop”.'
    );
    await expect(a.getByTestId('invite-state').last()).toHaveText('joined');
    await expect(a.getByTestId('invites')).toContainText(
      'another device of Bea Member (member) · joined: a new device of Bea Member joined'
    );
    await expect(memberRow(c, 'Bea Member').getByTestId('device')).toHaveCount(2);
    const laptop = (await memberRow(c, 'Bea Member')
      .getByTestId('device')
      .filter({ hasText: 'this device' })
      .locator('.mono')
      .textContent())!.trim();
    await expect(memberRow(c, 'Bea Laptop')).toHaveCount(0);
    // On the owner's page: one member, two devices, each with its own remove button; the owner's row has none.
    await nav(a, 'Team');
    const beaRow = memberRow(a, 'Bea Member');
    await expect(beaRow).toHaveCount(1);
    await expect(beaRow.getByTestId('device')).toHaveCount(2);
    await expect(beaRow.getByTestId('remove-device')).toHaveCount(2);
    await expect(memberRow(a, 'Ada Admin').getByTestId('remove-device')).toHaveCount(0);
    // Bea's desk browser, a member, may not remove a device.
    await nav(b, 'Team');
    await expect(memberRow(b, 'Bea Member').getByTestId('remove-device')).toHaveCount(0);

    for (const p of [a, b, c]) await startSync(p, relay.url, { relay: true, webrtc: false, tabs: false });
    await expect(a.getByTestId('peer-row').filter({ hasText: 'Bea Member' }).getByText('online')).toHaveCount(2, {
      timeout: 30_000
    });
    // Peers are named by the device fingerprints the members table shows, so each can be told apart.
    await expect(a.getByTestId('peer-row').filter({ hasText: laptop })).toHaveCount(1);
    await recordGeneration(c, generation('Laptopwork'));
    await nav(c, 'Team');
    await searchShows(a, 'Laptopwork', true);

    // The laptop is lost: the owner removes that device; the confirmation says only that device goes.
    await beaRow
      .getByTestId('device')
      .filter({ hasText: laptop })
      .getByRole('button', { name: `Remove this device of Bea Member (${laptop})` })
      .click();
    const confirm = a.getByRole('alertdialog', { name: `Remove Bea Member's device ${laptop}?` });
    await expect(confirm).toBeVisible();
    await expect(confirm).toBeFocused();
    await expect(confirm).toContainText(
      `Only device ${laptop} can no longer sync with the team: every member refuses it from now on. Bea Member stays a member, with one other device.`
    );
    await expect(confirm).toContainText('The team key moves to epoch 2');
    await a.screenshot({ path: `${SHOTS}team-03-remove-device.png`, fullPage: true });
    // The two-device row, its buttons and the confirmation pass axe (no serious or critical violation).
    await a.getByLabel('For', { exact: true }).selectOption({ label: 'another device of Bea Member' });
    expect(await audit(a)).toEqual([]);
    await confirm.getByRole('button', { name: `Remove device ${laptop}` }).click();
    await expect(a.getByTestId('remove-done')).toContainText(
      `Bea Member's device ${laptop} was removed; Bea Member stays a member.`
    );
    await expect(a.getByTestId('team-epoch')).toHaveText(/epoch 2$/);
    await expect(beaRow.getByTestId('device').filter({ hasText: laptop })).toContainText('removed');
    await expect(beaRow.getByTestId('remove-device')).toHaveCount(0);
    await expect(beaRow.getByTestId('remove-member')).toBeVisible();
    await expect(beaRow.locator('td').first()).toHaveText('Bea Member');

    // The laptop is told and stops; the desk browser moves to epoch 2 and keeps receiving.
    await nav(c, 'Team');
    await expect(c.getByTestId('removed-notice')).toBeVisible({ timeout: 30_000 });
    await expect(c.getByTestId('sync-running')).toContainText('Not syncing');
    await nav(b, 'Team');
    await expect(b.getByTestId('team-epoch')).toHaveText(/epoch 2$/, { timeout: 30_000 });
    await expect(memberRow(b, 'Bea Member').getByTestId('device').filter({ hasText: laptop })).toContainText(
      'removed',
      { timeout: 20_000 }
    );
    await expect(b.getByTestId('removed-notice')).toHaveCount(0);
    await recordGeneration(a, generation('Deskwork'));
    await nav(b, 'Team');
    await searchShows(b, 'Deskwork', true);
    await searchShows(c, 'Deskwork', false);
    expect(pa).toEqual([]);
    expect(pb).toEqual([]);
    expect(pc).toEqual([]);
  } finally {
    await ba.close();
    await bb.close();
    await bc.close();
    await stop(relay.child);
  }
});

test('over WebRTC alone, the owner hands the new key to the connected browser and both go on in the new epoch', async () => {
  test.setTimeout(240_000);
  const ns = makeNetns();
  const relay = await startRelay(ns.exec);
  const app = await startAppServer(ns.exec);
  const tmp = mkdtempSync(path.join(tmpdir(), 'pl-removal-e2e-'));
  const dir = path.join(tmp, 'carl');
  const [ba, bb] = [await launch(ns.chromium), await launch(ns.chromium)];
  try {
    const { page: a, problems: pa } = await open(ba, app.url);
    const { page: b, problems: pb } = await open(bb, app.url);
    await createLedger(a, 'Ada Admin', 'Studio Mesh');
    await joinTeam(b, await makeInvite(a, relay.url), 'Bea Member', relay.url);
    await expect(b.getByTestId('ledger-name')).toHaveText('Studio Mesh', { timeout: 45_000 });
    const joined = await cliIn(
      ns.exec,
      'join',
      await makeInvite(a, relay.url),
      '--ledger',
      dir,
      '--name',
      'Carl CLI',
      '--relay',
      relay.url,
      '--json'
    );
    expect(joined.code, joined.out).toBe(0);

    await startSync(a, relay.url, { relay: false, webrtc: true, tabs: false });
    await startSync(b, relay.url, { relay: false, webrtc: true, tabs: false });
    await peerOnline(a, 'Bea Member', 'webrtc');
    await expect(memberRow(b, 'Carl CLI')).toBeVisible({ timeout: 20_000 });

    await memberRow(a, 'Carl CLI').getByTestId('remove-member').click();
    await a.getByTestId('confirm-remove').click();
    await expect(a.getByTestId('remove-done')).toContainText('Carl CLI was removed', { timeout: 30_000 });
    await expect(a.getByTestId('sync-log')).toContainText('Handed the team key of epoch 2');
    await expect(b.getByTestId('team-epoch')).toHaveText(/epoch 2$/, { timeout: 30_000 });
    await expect(b.getByTestId('sync-running')).toContainText('Running over: webrtc');
    await expect(memberRow(b, 'Carl CLI')).toContainText('removed', { timeout: 20_000 });
    await peerOnline(b, 'Ada Admin', 'webrtc');

    await recordGeneration(a, generation('Meshwork'));
    await nav(b, 'Team');
    await searchShows(b, 'Meshwork', true);
    await expect(b.getByTestId('log-rejected')).toHaveCount(0);
    expect(pa).toEqual([]);
    expect(pb).toEqual([]);
  } finally {
    await ba.close();
    await bb.close();
    await stop(app.child);
    await stop(relay.child);
    ns.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
});
