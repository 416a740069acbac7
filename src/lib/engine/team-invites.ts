/**
 * Invites made and answered by the Team service (team.ts): the same code format and exchange as the CLI's
 * `invite` and `join`.
 */
import * as A from '@automerge/automerge/slim';
import { Ledger } from '../core/ledger.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import type { Role } from '../core/roster.ts';
import { ensureTeamKey, saveTeamKey } from '../core/team/teamkey.ts';
import { hostInvite, inviteRoomKey, joinInvite, makeInviteCode, parseInviteCode } from '../core/team/invite.ts';
import { admit, deviceInviteTargetById, INVITE_ROLES, newMemberRole, type Admitted } from '../core/team/devices.ts';
import { connectRelay } from '../adapters/transport/websocket.ts';
import type { EngineState } from './protocol.ts';
import type { TeamInvite } from './team-protocol.ts';
import { checkRelay, me, pokeAll, saveSettings, teamSettings, teamStorage, type TeamCore } from './team-core.ts';
import { add } from './team-log.ts';

/** The invite code inside what the user pasted: the code itself, or a link with ?join=CODE. */
export function inviteCodeFrom(text: string): string {
  const t = text.trim();
  const m = /[?&#]join=([A-Za-z0-9-]+)/.exec(t);
  return m ? m[1] : t;
}

/**
 * An invite: of a new member with `roleIn` (admin, member or viewer), or, with `memberIdIn`, of another device
 * of that member, which gets the member's id, name and role (core/team/devices.ts, as `provenance-ledger invite
 * --member`; no role goes with it then).
 */
export async function invite(
  t: TeamCore,
  roleIn: unknown,
  relayIn: unknown,
  memberIdIn?: unknown
): Promise<TeamInvite> {
  const given = (v: unknown) => v !== undefined && v !== null && v !== '';
  if (given(memberIdIn) && typeof memberIdIn !== 'string')
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Which member the device is for must be a member id');
  if (given(memberIdIn) && given(roleIn))
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      "An invite of another device of a member gives the member's role: no role goes with it"
    );
  const role = given(roleIn) ? roleIn : 'member';
  if (typeof role !== 'string' || !INVITE_ROLES.includes(role as Role))
    throw new LedgerError(ErrorCode.BAD_INPUT, `The role must be one of ${INVITE_ROLES.join(', ')}`);
  const relay = checkRelay(relayIn);
  const { ledger, key, role: myRole } = me(t);
  const target = given(memberIdIn)
    ? deviceInviteTargetById(ledger, key, memberIdIn as string)
    : (newMemberRole(ledger, key, role), undefined);
  const storage = await teamStorage(t);
  const team = await ensureTeamKey(storage, myRole === 'owner');
  if (!team) throw new LedgerError(ErrorCode.NOT_FOUND, 'This device holds no team key yet: sync with the owner first');
  const { code, invite: inv } = makeInviteCode(ledger.id);
  const transport = await connectRelay(relay, await inviteRoomKey(inv));
  const entry: TeamInvite = {
    code,
    role: target?.role ?? role,
    ...(target ? { member: { id: target.memberId, name: target.name } } : {}),
    state: 'waiting',
    created: new Date().toISOString()
  };
  t.invites.push(entry);
  await saveSettings(t, { ...(await teamSettings(t)), relay });
  add(t, {
    kind: 'info',
    message: `Invite made for ${target ? `another device of ${target.name} (${target.role})` : `a new ${role}`}; waiting at the relay for the new device`
  });
  let added: Admitted | undefined;
  void hostInvite({
    invite: inv,
    transport,
    team,
    timeoutMs: 30 * 60_000,
    admit: async (j) => {
      const a = (added = await admit(ledger, key, target ? { memberId: target.memberId } : { role }, j));
      const who = target ? `another device of ${a.name}` : a.name;
      add(t, {
        kind: 'info',
        message: `Added ${who} as ${a.role} (member event ${a.event.id.slice(0, 16)})`,
        peer: j.deviceKey,
        peerName: a.name
      });
      return { ledgerId: ledger.id, role: a.role, doc: A.save(ledger.doc) };
    }
  })
    .then((j) => {
      const name = added?.name ?? j.name;
      entry.state = 'joined';
      entry.joinedName = name;
      add(t, {
        kind: 'info',
        message: target ? `A new device of ${name} joined the team` : `${name} joined the team`,
        peer: j.deviceKey,
        peerName: name
      });
      pokeAll(t);
    })
    .catch((e: Error) => {
      entry.state = 'failed';
      entry.error = e.message;
      add(t, { kind: 'error', message: `Invite ${code.slice(0, 11)}… failed: ${e.message}` });
    })
    .finally(() => transport.close());
  return { ...entry };
}

/** A new device joins with an invite code: the ledger arrives, is verified whole, and becomes this device's. */
export async function join(t: TeamCore, codeIn: unknown, nameIn: unknown, relayIn: unknown): Promise<EngineState> {
  const inv = typeof codeIn === 'string' ? parseInviteCode(inviteCodeFrom(codeIn)) : undefined;
  if (!inv) throw new LedgerError(ErrorCode.BAD_INPUT, 'That is not an invite code');
  const name = typeof nameIn === 'string' ? nameIn.trim() : '';
  if (!name || name.length > 256) throw new LedgerError(ErrorCode.BAD_INPUT, 'Your name is required');
  const relay = checkRelay(relayIn);
  const storage = await teamStorage(t);
  if (await Ledger.exists(storage))
    throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, 'This device already holds a ledger');
  const identity = await t.d.ensureIdentity(name);
  const transport = await connectRelay(relay, await inviteRoomKey(inv));
  try {
    const { welcome, done } = await joinInvite({
      invite: inv,
      transport,
      signer: identity.signer,
      name,
      timeoutMs: 60_000
    });
    await storage.save(['doc', 'snapshot', await sha256Hex(welcome.doc)], welcome.doc);
    const report = await Ledger.verifyStorage(storage, welcome.ledgerId);
    const state = report.ok ? await t.d.host.reopen() : undefined;
    if (!state || state.state !== 'ready' || !t.d.host.ledger().member(identity.publicKey)?.active) {
      await storage.removeRange(['doc']);
      await t.d.host.reopen();
      throw new LedgerError(
        ErrorCode.GENESIS,
        `The ledger received does not verify or does not make this device a member${
          report.ok
            ? ''
            : `: ${report.problems
                .slice(0, 3)
                .map((p) => `${p.code} ${p.message}`)
                .join('; ')}`
        }`
      );
    }
    await saveTeamKey(storage, welcome.team);
    await saveSettings(t, { ...(await teamSettings(t)), relay });
    await done();
    await new Promise((r) => setTimeout(r, 100));
    // The device keeps the name the roster gives it: for another device of a member, the member's, whatever was typed.
    const ledger = t.d.host.ledger();
    const mine = ledger.member(identity.publicKey)!;
    const devices = ledger.roster().filter((m) => m.active && m.memberId === mine.memberId).length;
    let joined: EngineState = state;
    if (mine.name !== identity.memberName && t.d.renameIdentity) {
      await t.d.renameIdentity(mine.name);
      joined = await t.d.host.reloadIdentity();
    }
    const as =
      devices > 1
        ? `another device of ${mine.name} (${mine.role})${mine.name !== name ? `; the name typed, “${name}”, is not used` : ''}`
        : mine.role;
    add(t, {
      kind: 'info',
      message: `Joined “${state.ledger.name}” as ${as}; ${state.events.length} events received, every one verified`
    });
    return joined;
  } finally {
    transport.close();
  }
}
