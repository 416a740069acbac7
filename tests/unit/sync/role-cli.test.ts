/**
 * `provenance-ledger role` between real processes: an owner and two members who joined with invites through a
 * real relay. The owner promotes a member to admin; the change reaches the member's device at its next sync,
 * which may then change roles itself, within an admin's rights. Every refused change exits 1 (2 for a role that
 * does not exist) and leaves the ledger directory byte for byte as it was.
 */
import { describe, expect, it } from 'vitest';
import { hashTree, run, type RunResult } from '../cli/helpers.ts';
import { docs, useCliTeam } from './cli-team.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';

const { dir, pl, startInvite } = useCliTeam('pl-role-');
const role = (name: string, ...args: string[]) => run(['role', ...args, '--ledger', dir(name)]);

const ledgerOf = async (name: string) => Ledger.open({ storage: await FsStorage.open(dir(name)) });
const keyOf = async (name: string, member: string) =>
  (await ledgerOf(name)).roster().find((m) => m.name === member)!.key;

/** Runs `role` in `name`'s directory expecting a refusal: the exit code, the error, and not one byte changed. */
async function refused(name: string, args: string[], exit: number, code: string, message: RegExp): Promise<RunResult> {
  const before = await hashTree(dir(name));
  const r = await role(name, ...args, '--json');
  expect(r.code, r.stdout + r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  expect(r.errorJson().error).toMatchObject({ code });
  expect(r.errorJson().error.message).toMatch(message);
  expect(await hashTree(dir(name)), `${args.join(' ')} changed ${name}'s ledger directory`).toBe(before);
  return r;
}

describe('provenance-ledger role', () => {
  it('an owner makes a member an admin; refused changes exit 1 and leave the directory as it was; the change syncs', async () => {
    expect((await run(['init', '--ledger', dir('ada'), '--name', 'Ada', '--ledger-name', 'Studio'])).code).toBe(0);
    for (const who of ['Bea', 'Cleo']) {
      const inv = await startInvite('ada');
      const j = await pl(who.toLowerCase(), 'join', inv.code, '--name', who, '--json');
      expect(j.code, j.stderr).toBe(0);
      expect(await inv.done).toContain('joined');
    }

    // Refused on the owner's device: the only owner stepping down, an unchanged role, an unknown member.
    await refused('ada', ['Ada', 'member'], 1, 'BAD_INPUT', /no active owner left/);
    await refused('ada', ['Bea', 'member'], 1, 'BAD_INPUT', /Bea is already a member/);
    await refused('ada', ['Dora', 'viewer'], 1, 'NOT_FOUND', /no active member or device "Dora"/);
    // Usage: a role that does not exist, a missing argument.
    await refused(
      'ada',
      ['Bea', 'superuser'],
      2,
      'BAD_INPUT',
      /the role must be one of owner, admin, member, viewer; got "superuser"/
    );
    await refused('ada', ['Bea'], 2, 'USAGE', /missing required argument 'role'/);
    // Refused on a member's device: members change no roles.
    await refused(
      'bea',
      ['Cleo', 'viewer'],
      1,
      'AUTHOR_NOT_AUTHORIZED',
      /only an owner or admin may change a member's role \(this device is member\)/
    );

    // The owner makes Bea an admin.
    const beaKey = await keyOf('ada', 'Bea');
    const ok = await role('ada', 'Bea', 'admin', '--json');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const out = ok.json();
    expect(out.changed).toEqual([
      { key: beaKey, memberId: expect.any(String), name: 'Bea', from: 'member', role: 'admin' }
    ]);
    expect(out.events).toHaveLength(1);
    const ada = await ledgerOf('ada');
    const ev = ada.get(out.events[0])!;
    expect(ev.event.author).toBe(ada.roster().find((m) => m.name === 'Ada')!.key);
    expect(ev.event.body).toEqual({
      action: 'update',
      member: { id: out.changed[0].memberId, name: 'Bea', key: beaKey, role: 'admin' }
    });
    expect(ada.member(beaKey)!.role).toBe('admin');
    expect((await run(['verify', '--ledger', dir('ada')])).code).toBe(0);
    // Human output says what happened.
    const text = await role('ada', 'Cleo', 'viewer');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Cleo is now a viewer \(was member\): 1 member event recorded/);
    expect((await role('ada', 'Cleo', 'member')).code).toBe(0);

    // Bea's device does not know yet; after a sync it does, and acts as an admin.
    expect((await ledgerOf('bea')).member(beaKey)!.role).toBe('member');
    const [sa, sb] = await Promise.all([pl('ada', 'sync', '--once', '--json'), pl('bea', 'sync', '--once', '--json')]);
    expect(sa.code, sa.stdout + sa.stderr).toBe(0);
    expect(sb.code, sb.stdout + sb.stderr).toBe(0);
    expect((await ledgerOf('bea')).member(beaKey)!.role).toBe('admin');
    // Bea's running sync followed the change: as an admin it syncs in every key epoch's room it holds (one here).
    expect(docs(sb.stdout).find((d) => d.role)?.role).toEqual({ now: 'admin', epochs: [1] });
    await refused(
      'bea',
      ['Cleo', 'admin'],
      1,
      'AUTHOR_NOT_AUTHORIZED',
      /only an owner may grant, change or revoke the owner or admin role/
    );
    await refused('bea', ['Ada', 'member'], 1, 'AUTHOR_NOT_AUTHORIZED', /only an owner may/);
    const byBea = await role('bea', 'Cleo', 'viewer', '--json');
    expect(byBea.code, byBea.stdout + byBea.stderr).toBe(0);
    const bea = await ledgerOf('bea');
    expect(bea.member(await keyOf('bea', 'Cleo'))!.role).toBe('viewer');
    expect(bea.get(byBea.json().events[0])!.event.author).toBe(beaKey);
    expect((await run(['verify', '--ledger', dir('bea')])).code).toBe(0);
  }, 120_000);
});
