/**
 * Set-up shared by the CLI team tests (cli, role-cli, devices-cli): a relay on 127.0.0.1 and a temporary folder
 * per test file (useCliTeam), and `provenance-ledger invite` run in the background: it prints its code, then waits
 * on the relay for the new device, so the test reads the code and goes on while it waits.
 */
import { afterAll, beforeAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { BIN, run, tempDir } from '../cli/helpers.ts';
import { startRelay, type Relay, type RelayOptions } from '../../../src/relay/server.ts';

const children: ChildProcess[] = [];

/** The documents a --json command printed as things happened (pretty-printed, one after another). */
export const docs = (out: string): any[] =>
  out
    .trim()
    .split(/\n(?=\{)/)
    .map((d) => JSON.parse(d));

/**
 * Starts `invite ...args --ledger DIR --relay URL --json`; resolves with the invite code, the first document it
 * printed (the invite), and the promise of all it printed once it ends. Rejects if it ends before printing one.
 */
export function startInvite(
  ledgerDir: string,
  relayUrl: string,
  ...args: string[]
): Promise<{ code: string; first: any; done: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, 'invite', ...args, '--ledger', ledgerDir, '--relay', relayUrl, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );
    children.push(child);
    let out = '';
    let err = '';
    const done = new Promise<string>((res) => child.on('close', () => res(out + err)));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /"code": "([A-Z0-9-]+)"/.exec(out);
      if (m && /\n\}\n/.test(out)) resolve({ code: m[1], first: docs(out)[0], done });
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('close', (c) => reject(new Error(`invite exited ${c}: ${out}${err}`)));
  });
}

/** Kills the invites still waiting (call in afterAll). */
export function stopInvites(): void {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * Registers the file's hooks: a relay (with `relayOpts`, e.g. onForward to capture what it forwards) and a
 * temporary folder named `prefix…`, both gone after the file's tests, with any invite still waiting. Returns
 * each device's directory by name, the relay's URL, the CLI run in a device's directory against that relay, and
 * a background invite there.
 */
export function useCliTeam(prefix: string, relayOpts: Omit<RelayOptions, 'port'> = {}) {
  let relay: Relay | undefined;
  let tmp: { dir: string; cleanup: () => Promise<void> } | undefined;
  beforeAll(async () => {
    relay = await startRelay({ port: 0, ...relayOpts });
    tmp = await tempDir(prefix);
  });
  afterAll(async () => {
    stopInvites();
    await relay?.close();
    await tmp?.cleanup();
  });
  const relayUrl = (): string => relay!.url;
  const dir = (name: string): string => path.join(tmp!.dir, name);
  return {
    dir,
    relayUrl,
    /** The CLI with `--ledger <name's dir> --relay <relay>` after `args`. */
    pl: (name: string, ...args: string[]) => run([...args, '--ledger', dir(name), '--relay', relayUrl()]),
    /** `invite ...args` in name's directory, in the background. */
    startInvite: (name: string, ...args: string[]) => startInvite(dir(name), relayUrl(), ...args)
  };
}
