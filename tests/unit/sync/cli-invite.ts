/**
 * `provenance-ledger invite` run in the background by the CLI team tests (cli, role-cli, devices-cli): it prints
 * its code, then waits on the relay for the new device, so the test reads the code and goes on while it waits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from '../cli/helpers.ts';

const children: ChildProcess[] = [];

/** The documents a --json command printed as things happened (pretty-printed, one after another). */
export const docs = (out: string): any[] => out.trim().split(/\n(?=\{)/).map((d) => JSON.parse(d));

/**
 * Starts `invite ...args --ledger DIR --relay URL --json`; resolves with the invite code, the first document it
 * printed (the invite), and the promise of all it printed once it ends. Rejects if it ends before printing one.
 */
export function startInvite(ledgerDir: string, relayUrl: string, ...args: string[]): Promise<{ code: string; first: any; done: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'invite', ...args, '--ledger', ledgerDir, '--relay', relayUrl, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
