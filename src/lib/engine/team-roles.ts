/** Roles in the Team service (team.ts): a member's role changed here, and this device's own role followed. */
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { Role } from '../core/roster.ts';
import { loadTeamKeys, syncEpochs } from '../core/team/teamkey.ts';
import { changeRole as changeRoles, roleTargets } from '../core/team/roles.ts';
import type { TeamStatus } from './team-protocol.ts';
import { me, pokeAll, privileged, teamSettings, teamStorage, type TeamCore } from './team-core.ts';
import { add, status } from './team-log.ts';
import { open } from './team-transports.ts';

/**
 * An owner or admin changes a member's role: a `member` update event for each of its active devices
 * (core/team/roles.ts, as `provenance-ledger role`). Connected peers receive them at once; the others at their
 * next sync.
 */
export async function changeRole(t: TeamCore, memberIdIn: unknown, roleIn: unknown): Promise<TeamStatus> {
  if (typeof memberIdIn !== 'string' || !memberIdIn)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Which member is required');
  if (typeof roleIn !== 'string' || !roleIn) throw new LedgerError(ErrorCode.BAD_INPUT, 'The new role is required');
  const { ledger, key } = me(t);
  // By member id only (the page names members by id): a name or device key that happens to equal it is no match.
  const targets = roleTargets(ledger, key, memberIdIn, roleIn).filter((t) => t.memberId === memberIdIn);
  if (targets.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, 'No active member with that id');
  const from = targets[0].role;
  const events = await changeRoles(ledger, targets, roleIn as Role);
  const name = targets[0].name;
  add(t, {
    kind: 'info',
    peer: targets[0].key,
    peerName: name,
    message: `${name} is now ${roleIn === 'owner' || roleIn === 'admin' ? 'an' : 'a'} ${roleIn} (was ${from}; member event ${events[0].slice(0, 16)}${events.length > 1 ? ` and ${events.length - 1} more` : ''})`
  });
  pokeAll(t);
  return status(t);
}

/**
 * This device's role changed by a member event it received (promoted to admin, or demoted): an owner or admin
 * also syncs in the earlier epochs' rooms (relay and tabs) and a member or viewer does not, so those rooms are
 * opened or left now. Sync in the current epoch's room goes on untouched.
 */
export function followRole(t: TeamCore): void {
  t.switching = t.switching
    .then(async () => {
      if (t.hubs.length === 0) return;
      const { role } = me(t);
      const keys = await loadTeamKeys(await teamStorage(t));
      if (!keys[0] || !t.hubs.some((h) => h.epoch === keys[0].epoch)) return; // a key move is due: it opens the rooms the role wants
      const want = new Set(syncEpochs(keys, role ?? undefined).map((k) => k.epoch));
      const leave = t.hubs.filter((h) => !want.has(h.epoch));
      t.hubs = t.hubs.filter((h) => want.has(h.epoch));
      for (const h of leave) await h.hub.close().catch(() => undefined);
      const held = new Set(t.hubs.map((h) => h.epoch));
      const opening = keys.filter((k) => want.has(k.epoch) && !held.has(k.epoch));
      add(t, {
        kind: 'info',
        message: privileged(role)
          ? `This device is now ${role === 'owner' ? 'an owner' : 'an admin'}: sync also waits in the rooms of ${opening.length} earlier team key epoch${opening.length === 1 ? '' : 's'}, to hand the newest key to devices still on them`
          : `This device is now a ${role}: sync leaves the rooms of earlier team key epochs`
      });
      await open(t, await teamSettings(t), keys, t.port, (k) => !held.has(k.epoch));
    })
    .catch((e: Error) => add(t, { kind: 'error', message: `Could not change the rooms sync runs in: ${e.message}` }));
}
