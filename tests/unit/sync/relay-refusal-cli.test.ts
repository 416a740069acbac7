/**
 * `sync` shows every reason the relay gives for refusing or closing a room, and exits 1 when no peer could be
 * reached because of it (it used to print "no peer was online" and exit 0).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startRelay, type Relay } from '../../../src/relay/server.ts';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { ensureTeamKey, roomKey } from '../../../src/lib/core/team/teamkey.ts';
import { BIN, run, tempDir } from '../cli/helpers.ts';
import { docs } from './cli-team.ts';
import { until } from './helpers.ts';

const relays: Relay[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const r of relays) await r.close();
  for (const c of cleanups) await c();
});

async function ownerLedger(): Promise<string> {
  const tmp = await tempDir('pl-relay-refusal-');
  cleanups.push(tmp.cleanup);
  const dir = path.join(tmp.dir, 'a');
  expect((await run(['init', '--ledger', dir, '--name', 'Ada', '--ledger-name', 'Studio'])).code).toBe(0);
  return dir;
}

describe("sync and the relay's reasons", () => {
  it('a room the relay refuses (full): the reason is shown, "no peer could be reached", exit 1', async () => {
    const relay = await startRelay({ port: 0, maxPeersPerRoom: 1 });
    relays.push(relay);
    const dir = await ownerLedger();
    // The room's one place is taken.
    const team = (await ensureTeamKey(await FsStorage.open(dir), true))!;
    const holder = await connectRelay(relay.url, await roomKey(team));
    const human = await run(['sync', '--once', '--wait', '5', '--ledger', dir, '--relay', relay.url]);
    expect(human.code, human.stdout + human.stderr).toBe(1);
    expect(human.stdout).toMatch(
      /the room of team key epoch 1: the relay at ws:\/\/\S+ refused the connection \(1013 room full\)/
    );
    expect(human.stdout).toMatch(/no peer could be reached: the relay refused or closed the connection/);
    expect(human.stdout).not.toMatch(/no peer was online/);
    const json = await run(['sync', '--once', '--wait', '5', '--json', '--ledger', dir, '--relay', relay.url]);
    expect(json.code).toBe(1);
    const all = docs(json.stdout);
    expect(all[0]).toMatchObject({ refused: { epoch: 1, closeCode: 1013, reason: 'room full' } });
    expect(all.at(-1).relay).toEqual([{ epoch: 1, reason: expect.stringMatching(/\(1013 room full\)$/) }]);
    expect(all.at(-1).peers).toEqual([]);
    holder.close();
  }, 60_000);

  it('a connection the relay closes while syncing: the reason is shown and sync ends, exit 1', async () => {
    const relay = await startRelay({ port: 0 });
    const dir = await ownerLedger();
    const child = spawn(
      process.execPath,
      [BIN, 'sync', '--once', '--wait', '60', '--ledger', dir, '--relay', relay.url],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    const exited = new Promise<number | null>((res) => child.on('close', res));
    await until(() => out.includes('syncing ledger'), 20_000, 'sync started');
    await relay.close(); // every connection dropped
    expect(await exited, out).toBe(1);
    expect(out).toMatch(/the room of team key epoch 1: the relay closed the connection \(1006\)/);
    expect(out).toMatch(/no peer could be reached/);
  }, 60_000);
});
