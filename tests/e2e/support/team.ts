/**
 * Team sync e2e support: real processes only. A relay (`node src/relay/server.ts`), the static app server,
 * separate Chromium instances (each its own `chromium.launch`, not contexts of one browser), and, for WebRTC,
 * a network namespace with a veth pair and a default route (Chromium gathers no ICE candidates on a
 * loopback-only network). Everything in the namespace talks only to the namespace's own addresses.
 */
import { chromium, expect, type Browser, type Page } from '@playwright/test';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, chmodSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns'
];

/** Starts a process and resolves with the first match of `ready` in its output. */
export function startProcess(
  cmd: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {}
): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(' ')} did not start: ${out}`)), 30_000);
    const onData = (d: string) => {
      out += d;
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m, output: () => out });
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.on('exit', (c) => reject(new Error(`${cmd} exited ${c}: ${out}`)));
  });
}

export function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** `prefix` runs the command in a namespace (['ip', 'netns', 'exec', ns]) or not ([]). */
export async function startRelay(prefix: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const [cmd, ...rest] = [...prefix, process.execPath, 'src/relay/server.ts'];
  const p = await startProcess(cmd, rest, /relay listening on (ws:\/\/\S+)/, { PORT: '0' });
  return { url: p.match[1], child: p.child };
}

export async function startAppServer(prefix: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const [cmd, ...rest] = [...prefix, process.execPath, 'scripts/serve.js', '--port', '0'];
  const p = await startProcess(cmd, rest, /running at (http:\/\/127\.0\.0\.1:\d+\/)/);
  return { url: p.match[1], child: p.child };
}

export async function launch(executablePath = CHROMIUM): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

export interface Netns {
  name: string;
  /** The namespace's own address (the only non-loopback address anything in it uses). */
  address: string;
  exec: string[];
  /** A Chromium launcher that runs the browser inside the namespace. */
  chromium: string;
  destroy(): void;
}

/** A network namespace with a veth pair in a private test subnet and a default route inside it. */
export function makeNetns(): Netns {
  const id = (process.pid % 10000).toString();
  const name = `pl-e2e-${id}`;
  const host = `plh${id}`;
  const inner = `pli${id}`;
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  try {
    ip('netns', 'del', name);
  } catch {
    /* not there */
  }
  ip('netns', 'add', name);
  try {
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inner);
    ip('link', 'set', inner, 'netns', name);
    ip('addr', 'add', '10.213.7.1/24', 'dev', host);
    ip('link', 'set', host, 'up');
    const ns = (...a: string[]) => ip('netns', 'exec', name, 'ip', ...a);
    // No IPv6 inside: its link-local addresses finish duplicate detection a second or two after the link comes up,
    // and Chromium reports that change as net::ERR_NETWORK_CHANGED on whatever it is loading at that moment.
    execFileSync(
      'ip',
      [
        'netns',
        'exec',
        name,
        'sh',
        '-c',
        'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
      ],
      { stdio: 'pipe' }
    );
    ns('link', 'set', 'lo', 'up');
    ns('addr', 'add', '10.213.7.2/24', 'dev', inner);
    ns('link', 'set', inner, 'up');
    ns('route', 'add', 'default', 'via', '10.213.7.1');
  } catch (e) {
    ip('netns', 'del', name);
    throw e;
  }
  const launcher = path.join('/tmp', `${name}-chromium.sh`);
  writeFileSync(launcher, `#!/bin/sh\nexec ip netns exec ${name} ${CHROMIUM} "$@"\n`);
  chmodSync(launcher, 0o755);
  return {
    name,
    address: '10.213.7.2',
    exec: ['ip', 'netns', 'exec', name],
    chromium: launcher,
    destroy() {
      rmSync(launcher, { force: true });
      try {
        ip('netns', 'del', name);
      } catch {
        /* gone */
      }
      try {
        ip('link', 'del', host);
      } catch {
        /* went with the namespace */
      }
    }
  };
}

/** On the admin's Team page: makes an invite and returns its code. */
export async function makeInvite(page: Page, relay: string, role = 'member'): Promise<string> {
  await page.goto('/team');
  await expect(page.getByRole('heading', { name: 'Team', level: 1 })).toBeVisible();
  await page.getByLabel('Relay', { exact: true }).fill(relay);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  await page.getByTestId('make-invite').click();
  await expect(page.getByTestId('invite-code')).toBeVisible();
  const code = (await page.getByTestId('invite-code').textContent())!.trim();
  expect(code).toMatch(/^[A-Z2-7]{5}(-[A-Z2-7]{1,5})+$/);
  await expect(page.getByTestId('invite-qr')).toBeVisible();
  await expectNoSideScroll(page); // the invite's link and command, long words, wrap on a phone-sized screen
  return code;
}

/**
 * On a phone-sized screen (360 px) the page does not scroll sideways: long words wrap, wide tables scroll inside
 * their card. The layout is read again until it settles (a resize reflows on the next frame); a failure names
 * the elements that stick out.
 */
export async function expectNoSideScroll(page: Page): Promise<void> {
  const wide = page.viewportSize()!;
  await page.setViewportSize({ width: 360, height: 800 });
  try {
    await expect(async () => {
      const { over, culprits } = await page.evaluate(() => {
        const root = document.documentElement;
        const sticking = [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 1)
          .slice(-6)
          .map(
            (e) => `<${e.tagName.toLowerCase()} class="${e.className}"> ${(e.textContent ?? '').trim().slice(0, 50)}`
          );
        return { over: root.scrollWidth - root.clientWidth, culprits: sticking };
      });
      expect(
        over,
        `the page scrolls sideways by ${over} px on a 360 px screen; sticking out: ${culprits.join(' | ')}`
      ).toBe(0);
    }).toPass({ timeout: 5_000 });
  } finally {
    await page.setViewportSize(wide);
  }
}

/** On the owner's or admin's Team page: makes an invite of another device of `member` and returns its code. */
export async function makeDeviceInvite(page: Page, relay: string, member: string): Promise<string> {
  await page.goto('/team');
  await expect(page.getByRole('heading', { name: 'Team', level: 1 })).toBeVisible();
  await page.getByLabel('Relay', { exact: true }).fill(relay);
  await page.getByLabel('For', { exact: true }).selectOption({ label: `another device of ${member}` });
  await expect(page.getByLabel('Role', { exact: true })).toHaveCount(0);
  await expect(page.getByTestId('invite-for-role')).toContainText(
    `The new device joins as ${member}, with ${member}'s role`
  );
  await page.getByTestId('make-invite').click();
  await expect(page.getByTestId('invite-code')).toBeVisible();
  await expect(page.getByTestId('invite-made-for')).toContainText(`For another device of ${member}`);
  return (await page.getByTestId('invite-code').textContent())!.trim();
}

/** On a new browser: joins with a code through the Team page's link. */
export async function joinTeam(page: Page, code: string, name: string, relay: string): Promise<void> {
  await page.goto(`/team?join=${encodeURIComponent(code)}`);
  await expect(page.getByRole('heading', { name: 'Join a team' })).toBeVisible();
  await expect(page.getByLabel('Invite code or link')).toHaveValue(code);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Relay').fill(relay);
  await page.getByRole('button', { name: 'Join the team' }).click();
  await expect(page.getByRole('heading', { name: 'Team', level: 1 })).toBeVisible({ timeout: 45_000 });
}

export async function startSync(
  page: Page,
  relay: string,
  over: { relay: boolean; webrtc: boolean; tabs: boolean }
): Promise<void> {
  if (!page.url().includes('/team')) await page.goto('/team');
  await page.getByLabel('Relay', { exact: true }).fill(relay);
  const set = async (label: string | RegExp, on: boolean) =>
    page.getByRole('checkbox', { name: label, exact: typeof label === 'string' }).setChecked(on);
  await set('The relay', over.relay);
  await set(/WebRTC/, over.webrtc);
  await set(/Other tabs/, over.tabs);
  await page.getByTestId('start-sync').click();
  const want = [over.relay && 'relay', over.tabs && 'tabs', over.webrtc && 'webrtc'].filter(Boolean).join(', ');
  await expect(page.getByTestId('sync-running')).toContainText(`Running over: ${want}`);
}

/** Waits until the Team page shows `name` online over `transport`. */
export async function peerOnline(page: Page, name: string, transport: string, timeout = 30_000): Promise<void> {
  const row = page.getByTestId('peer-row').filter({ hasText: name });
  await expect(row.getByText('online')).toBeVisible({ timeout });
  await expect(row.getByTestId('peer-transports')).toContainText(transport, { timeout });
}
