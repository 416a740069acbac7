/**
 * A member with several devices, between real CLI processes through a real relay: the owner invites a second
 * device for a member with `invite --member`; it joins as that member (its id, name and role, whatever name it
 * typed); both devices record and sync. Refused invites and removals exit 1 (2 for usage) and leave the ledger
 * directory byte for byte as it was, on a device that just joined too. Then `remove <device key>` removes that
 * one device: it is refused and its later events reach nobody, while the member's other device keeps syncing
 * and moves to the new team key epoch.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, hashTree, run } from '../cli/helpers.ts';
import { docs, useCliTeam } from './cli-team.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { loadIdentity } from '../../../src/lib/adapters/node/identity.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { loadTeamKeys } from '../../../src/lib/core/team/teamkey.ts';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
const { dir, pl, relayUrl, startInvite } = useCliTeam('pl-devices-');

/** A `sync` that runs until stopped (SIGTERM), with its output. */
function startSync(name: string): Promise<{ stop: () => Promise<{ code: number | null; out: string }> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'sync', '--ledger', dir(name), '--relay', relayUrl(), '--json'], {
      stdio: ['ignore', 'pipe', 'pipe']
    });
    children.push(child);
    let out = '';
    const closed = new Promise<{ code: number | null; out: string }>((res) =>
      child.on('close', (code) => res({ code, out }))
    );
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (/"syncing"/.test(out)) resolve({ stop: () => (child.kill('SIGTERM'), closed) });
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('close', (c) => reject(new Error(`sync exited ${c}: ${out}`)));
  });
}

const ledgerOf = async (name: string) => Ledger.open({ storage: await FsStorage.open(dir(name)) });
const keyOf = async (name: string) => (await loadIdentity(await FsStorage.open(dir(name))))!.publicKey;

/** Runs a command in `name`'s directory expecting a refusal: the exit code, the error, and not one byte changed. */
async function refused(name: string, args: string[], exit: number, code: string, message: RegExp): Promise<void> {
  const before = await hashTree(dir(name));
  const r = await run([
    ...args,
    '--ledger',
    dir(name),
    ...(args[0] === 'invite' ? ['--relay', relayUrl()] : []),
    '--json'
  ]);
  expect(r.code, r.stdout + r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  expect(r.errorJson().error).toMatchObject({ code });
  expect(r.errorJson().error.message).toMatch(message);
  expect(await hashTree(dir(name)), `${args.join(' ')} changed ${name}'s ledger directory`).toBe(before);
}

async function record(name: string, project: string): Promise<string> {
  const r = await run([
    'record',
    'checklist',
    '--ledger',
    dir(name),
    '--project',
    project,
    '--classification',
    'client',
    '--json'
  ]);
  expect(r.code, r.stderr).toBe(0);
  return r.json().event.id as string;
}

describe('a member with several devices', () => {
  it('invite --member adds a second device to a member; both sync; remove <device key> removes that device only', async () => {
    expect((await run(['init', '--ledger', dir('ada'), '--name', 'Ada', '--ledger-name', 'Studio'])).code).toBe(0);
    for (const [who, role] of [
      ['Bea', 'member'],
      ['Cleo', 'admin']
    ]) {
      const inv = await startInvite('ada', '--role', role);
      expect(inv.first.invite).toEqual({ code: inv.code, role, relay: relayUrl() });
      const j = await pl(who.toLowerCase(), 'join', inv.code, '--name', who, '--json');
      expect(j.code, j.stderr).toBe(0);
      expect(j.json().member).toMatchObject({ name: who, role, devices: 1 });
      expect(await inv.done).toContain('joined');
    }
    const adaKey = await keyOf('ada');
    const beaKey = await keyOf('bea');
    const beaId = (await ledgerOf('ada')).member(beaKey)!.memberId;

    // Refused on Bea's device, which just joined (no Git journal yet: a write session would make one): members
    // invite no one and remove nothing.
    await refused(
      'bea',
      ['invite', '--member', 'Bea'],
      1,
      'AUTHOR_NOT_AUTHORIZED',
      /only an owner or admin may invite \(this device is member\)/
    );
    await refused('bea', ['invite'], 1, 'AUTHOR_NOT_AUTHORIZED', /only an owner or admin may invite/);
    await refused(
      'bea',
      ['remove', adaKey],
      1,
      'AUTHOR_NOT_AUTHORIZED',
      /only an owner or admin may remove a member \(this device is member\)/
    );
    // An admin adds no device to the owner (nor to an admin); the owner's device: an unknown member, usage errors.
    await refused(
      'cleo',
      ['invite', '--member', 'Ada'],
      1,
      'AUTHOR_NOT_AUTHORIZED',
      /only an owner may add a device to an owner or admin \(Ada is an owner\)/
    );
    await refused('ada', ['invite', '--member', 'Dora'], 1, 'NOT_FOUND', /no active member or device "Dora"/);
    await refused(
      'ada',
      ['invite', '--member', 'Bea', '--role', 'viewer'],
      2,
      'USAGE',
      /--role and --member do not go together/
    );
    await refused('ada', ['invite', '--role', 'owner'], 2, 'BAD_INPUT', /--role must be one of admin, member, viewer/);
    await refused('ada', ['remove', adaKey], 1, 'BAD_INPUT', /a device cannot remove itself/);
    await refused('ada', ['remove', 'Dora'], 1, 'NOT_FOUND', /no active member or device "Dora"/);

    // The owner invites another device of Bea; it joins under another name, and keeps Bea's.
    const inv = await startInvite('ada', '--member', 'Bea');
    expect(inv.first.invite).toEqual({
      code: inv.code,
      role: 'member',
      relay: relayUrl(),
      member: { id: beaId, name: 'Bea' }
    });
    const j = await pl('bea2', 'join', inv.code, '--name', 'Bea laptop');
    expect(j.code, j.stderr).toBe(0);
    expect(j.stdout).toMatch(
      /^Joined ledger "Studio" in .* as another device of Bea \(member; member id [0-9a-f]{16}, 2 devices\)\n/
    );
    expect(j.stdout).toContain('the name given, "Bea laptop", is not used: this device records as Bea');
    const hosted = docs(await inv.done);
    const bea2Key = await keyOf('bea2');
    expect(hosted.find((d) => d.added)!.added).toMatchObject({
      memberId: beaId,
      name: 'Bea',
      key: bea2Key,
      role: 'member'
    });
    expect(hosted.find((d) => d.joined)!.joined).toEqual({ name: 'Bea', key: bea2Key, memberId: beaId });
    expect((await loadIdentity(await FsStorage.open(dir('bea2'))))!.name).toBe('Bea');

    // One member, two active keys, one role: the add event names Bea's id, name and role with the new key.
    const ada = await ledgerOf('ada');
    const beas = ada.roster().filter((m) => m.memberId === beaId);
    expect(beas.map((m) => [m.key, m.name, m.role, m.active])).toEqual([
      [beaKey, 'Bea', 'member', true],
      [bea2Key, 'Bea', 'member', true]
    ]);
    const add = ada.get(ada.member(bea2Key)!.since)!;
    expect(add.event.author).toBe(adaKey);
    expect(add.event.body).toEqual({ action: 'add', member: { id: beaId, name: 'Bea', key: bea2Key, role: 'member' } });
    expect((await ledgerOf('bea2')).member(bea2Key)).toMatchObject({
      memberId: beaId,
      name: 'Bea',
      role: 'member',
      active: true
    });

    // Both of Bea's devices record; each device syncs with the owner's running sync in turn (so that every device
    // holds the laptop's member event before the laptop connects), then once more to take what came after it.
    const fromBea = await record('bea', 'Desk');
    const fromBea2 = await record('bea2', 'Laptop');
    const hub = await startSync('ada');
    for (const w of ['bea', 'cleo', 'bea2', 'bea', 'cleo']) {
      const r = await pl(w, 'sync', '--once', '--json');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(
        docs(r.stdout)
          .at(-1)
          .peers.map((p: { name: string }) => p.name),
        w
      ).toEqual(['Ada']);
    }
    const hubDone = await hub.stop();
    expect(docs(hubDone.out).at(-1).rejected, hubDone.out).toEqual([]);
    expect(docs(hubDone.out).at(-1).accepted).toEqual(expect.arrayContaining([fromBea, fromBea2]));
    const ledgers = await Promise.all(['ada', 'bea', 'bea2', 'cleo'].map(ledgerOf));
    for (const l of ledgers) {
      expect(l.heads()).toEqual(ledgers[0].heads());
      expect(l.get(fromBea)!.event.author).toBe(beaKey);
      expect(l.get(fromBea2)!.event.author).toBe(bea2Key);
    }
    for (const w of ['ada', 'bea', 'bea2', 'cleo']) expect((await run(['verify', '--ledger', dir(w)])).code).toBe(0);

    // The laptop is lost: the owner removes that device only. Bea stays a member with her other device.
    const removed = await run(['remove', bea2Key, '--ledger', dir('ada')]);
    expect(removed.code, removed.stdout + removed.stderr).toBe(0);
    expect(removed.stdout).toBe(
      `Removed Bea (${bea2Key.slice(0, 12)}…)\nBea stays a member with 1 other device.\nTeam key rotated to epoch 2: run sync to hand it to the remaining devices.\n`
    );
    const after = await ledgerOf('ada');
    expect(after.member(bea2Key)!.active).toBe(false);
    expect(after.get(after.member(bea2Key)!.since)!.event.body).toEqual({
      action: 'remove',
      member: { id: beaId, name: 'Bea', key: bea2Key, role: 'member' }
    });
    expect(after.member(beaKey)).toMatchObject({ memberId: beaId, active: true, role: 'member' });
    expect(after.roster().filter((m) => m.active).length).toBe(3);

    // The removed device records and syncs: the owner refuses it and shows it the removal; nothing it sent counts.
    const late = await record('bea2', 'After the loss');
    const owner = await startSync('ada');
    const r2 = await pl('bea2', 'sync', '--once', '--wait', '15', '--json');
    expect(r2.code, r2.stdout).toBe(1);
    const s2 = docs(r2.stdout).at(-1);
    expect(s2.removed).toMatchObject({ key: bea2Key, by: adaKey, byName: 'Ada' });
    expect(s2.accepted).toEqual([]);
    // Bea's desk device, still on epoch 1, is handed the newest key by the owner and keeps syncing.
    const r1 = await pl('bea', 'sync', '--once', '--wait', '15', '--json');
    expect(r1.code, r1.stdout + r1.stderr).toBe(0);
    expect((await loadTeamKeys(await FsStorage.open(dir('bea')))).map((k) => k.epoch)).toEqual([2, 1]);
    const next = await record('bea', 'Desk again');
    const r3 = await pl('bea', 'sync', '--once', '--wait', '15', '--json');
    expect(r3.code, r3.stdout + r3.stderr).toBe(0);
    expect(docs(r3.stdout).find((d) => d.syncing).syncing.epoch).toBe(2);
    const stopped = await owner.stop();
    expect(docs(stopped.out).at(-1).accepted).toContain(next);

    const [a, b] = [await ledgerOf('ada'), await ledgerOf('bea')];
    for (const l of [a, b]) {
      expect(l.get(next)!.event.author).toBe(beaKey);
      expect(l.get(late)).toBeUndefined();
      expect(l.member(bea2Key)!.active).toBe(false);
      expect(l.member(beaKey)!.active).toBe(true);
    }
    expect(a.heads()).toEqual(b.heads());
    expect(docs(stopped.out).at(-1).rejected).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'PEER_REMOVED', peer: bea2Key })])
    );
  }, 180_000);
});
