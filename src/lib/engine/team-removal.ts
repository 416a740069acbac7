/**
 * Removal by the Team service (team.ts): of a member or one device, the team key rotated after it, and this
 * device's own removal (from its roster or a notice a peer showed it), which stops sync.
 */
import type { Ledger } from '../core/ledger.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { keyFingerprint, type PublicKey } from '../core/keys.ts';
import type { RosterEntry } from '../core/roster.ts';
import {
  deviceRemovalTarget,
  keepRemovalNotice,
  loadRemovalNotice,
  removalOf,
  removalTargets,
  removeAndRotate,
  stillRemoved,
  type Removal
} from '../core/team/removal.ts';
import type { TeamRemoval, TeamStatus } from './team-protocol.ts';
import { me, pokeAll, saveSettings, teamSettings, teamStorage, type TeamCore } from './team-core.ts';
import { handOverOverWebRtc, moveToNewEpoch } from './team-epochs.ts';
import { add, status } from './team-log.ts';
import { stop } from './team-transports.ts';

/** After recording a removal, how long to let connected peers (the removed one too) receive it before the key changes. */
const FLUSH_MS = 3000;

/**
 * An owner or admin removes a member: a `member` remove event for each of its active devices, then a new team
 * key epoch covering them (core/team/removal.ts, as `provenance-ledger remove`).
 */
export async function remove(t: TeamCore, memberIdIn: unknown): Promise<TeamStatus> {
  if (typeof memberIdIn !== 'string' || !memberIdIn)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Which member to remove is required');
  const { ledger, key } = me(t);
  const targets = removalTargets(ledger, key, memberIdIn).filter((t) => t.memberId === memberIdIn);
  if (targets.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, 'No active member with that id');
  const name = targets[0].name;
  return removeAndMove(
    t,
    targets,
    (events, epoch) =>
      `Removed ${name} (${targets.length} device${targets.length === 1 ? '' : 's'}; member event ${events[0].slice(0, 16)}); team key rotated to epoch ${epoch}`
  );
}

/**
 * An owner or admin removes one device of a member (a lost laptop): one `member` remove event for that key,
 * then a new team key epoch, as for a member. The member and its other devices stay.
 */
export async function removeDevice(t: TeamCore, keyIn: unknown): Promise<TeamStatus> {
  if (typeof keyIn !== 'string' || !keyIn)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Which device to remove is required');
  const { ledger, key } = me(t);
  const target = deviceRemovalTarget(ledger, key, keyIn);
  const fingerprint = await keyFingerprint(target.key as PublicKey);
  return removeAndMove(t, [target], (events, epoch) => {
    const left = ledger.roster().filter((m) => m.active && m.memberId === target.memberId).length;
    return `Removed ${target.name}'s device ${fingerprint} (member event ${events[0].slice(0, 16)}); ${target.name} stays a member with ${left} device${left === 1 ? '' : 's'}; team key rotated to epoch ${epoch}`;
  });
}

/**
 * Records the removals and rotates the team key (core/team/removal.ts). Connected peers, the removed devices
 * among them, get the removal events first; then sync moves to the new epoch's room, and this device stays in the
 * old one to hand the new key to the remaining devices (never to the removed ones: they fail the membership proof).
 */
async function removeAndMove(
  t: TeamCore,
  targets: RosterEntry[],
  said: (events: string[], epoch: number) => string
): Promise<TeamStatus> {
  const { ledger } = me(t);
  const storage = await teamStorage(t);
  const { events, team } = await removeAndRotate(ledger, storage, targets);
  t.newest = team;
  add(t, { kind: 'info', peer: targets[0].key, peerName: targets[0].name, message: said(events, team.epoch) });
  if (t.hubs.length) {
    pokeAll(t);
    const t0 = Date.now();
    do await new Promise((r) => setTimeout(r, 100));
    while (Date.now() - t0 < FLUSH_MS && !t.hubs.every(({ hub }) => hub.quiet(300)));
    await handOverOverWebRtc(t).catch((e: Error) =>
      add(t, {
        kind: 'error',
        transport: 'webrtc',
        message: `Could not hand the new team key over WebRTC: ${e.message}`
      })
    );
    moveToNewEpoch(t);
    await t.switching;
  }
  return status(t);
}

/** This device's removal: from its own roster, or from a notice a peer showed it (kept: core/team/removal.ts). */
export async function removal(t: TeamCore, ledger: Ledger, key: string): Promise<TeamRemoval | null> {
  const r = removalOf(ledger, key);
  if (r) return { eventId: r.eventId, by: r.by, byName: r.byName, at: r.at, source: 'ledger' };
  if (t.notice === undefined)
    t.notice = ledger.removedBy ?? (await loadRemovalNotice(await teamStorage(t), ledger, key)) ?? null;
  const n = t.notice;
  // Invited again after the removal: the old notice no longer holds.
  return n && stillRemoved(ledger, key, n) ? asTeamRemoval(n) : null;
}

/** This device learned that it was removed: sync stops, and is not started again after a reload. */
export async function removedStop(t: TeamCore, r: Removal, source: 'ledger' | 'notice'): Promise<void> {
  t.stopping = true;
  try {
    await stop(t);
    await saveSettings(t, { ...(await teamSettings(t)), active: false });
    add(t, {
      kind: 'error',
      code: 'PEER_REMOVED',
      peer: r.by,
      peerName: r.byName,
      message: `This device was removed from the team by ${r.byName || 'an admin'} (member event ${r.eventId.slice(0, 16)}${source === 'notice' ? ', shown by a peer that refused this device' : ''}): sync stopped; the team no longer accepts this device`
    });
  } finally {
    t.stopping = false;
  }
}

/** A peer refused this device and showed it its removal (checked by the hub against this roster): kept, and sync stops. */
export async function onNotice(t: TeamCore, r: Removal): Promise<void> {
  const ledger = t.ledger;
  if (!ledger || t.notice?.eventId === r.eventId) return;
  t.notice = r;
  // Kept with its signature; from now on the ledger refuses this device's appends.
  await keepRemovalNotice(await teamStorage(t), ledger, r);
  setTimeout(() => void removedStop(t, r, 'notice'), 0);
}

const asTeamRemoval = (n: Removal): TeamRemoval => ({
  eventId: n.eventId,
  by: n.by,
  byName: n.byName,
  at: n.at,
  source: 'notice'
});

/** Whether this device may remove the device `target` now (removal.ts deviceRemovalTarget passes). */
export function removable(ledger: Ledger, myKey: string, target: string): boolean {
  try {
    deviceRemovalTarget(ledger, myKey, target);
    return true;
  } catch {
    return false;
  }
}
