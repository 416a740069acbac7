/**
 * Removing a member from the team, as `provenance-ledger remove` does and the Team page does alike:
 *   1. one `member` event (action `remove`) per active device of the member, signed by an owner or admin;
 *   2. a new team key epoch whose `covers` lists those events (teamkey.ts), stored beside the ledger.
 * From then on the removed keys' events whose causal past holds the removal are refused everywhere (roster.ts),
 * every member refuses the removed devices at the membership proof, and the new key reaches the remaining
 * devices inside authenticated sessions only (an owner or admin hands it to a device still on the old epoch:
 * sync/hub.ts), so the removed devices never learn the new room.
 *
 * A removed device is told so by whoever refuses it: the removal event itself, signed by the owner or admin who
 * recorded it (a *removal notice*). The device checks it against its own roster before believing it.
 */
import { canonicalJson } from '../canonical.ts';
import { ErrorCode, LedgerError } from '../errors.ts';
import { eventId, type EventId } from '../event.ts';
import type { Ledger } from '../ledger.ts';
import type { RosterEntry } from '../roster.ts';
import type { StorageAdapter } from '../storage.ts';
import { checkEntries } from '../verify.ts';
import { loadTeamKeys, newTeamKey, saveTeamKey, type TeamKey } from './teamkey.ts';

const privileged = (role: string | undefined) => role === 'owner' || role === 'admin';

/**
 * The active devices `ref` names (a device key, a member id, or a member name), checked as the roster rules
 * will check the removal: only an owner or admin removes, only an owner removes an owner or admin, and no
 * device removes itself.
 */
export function removalTargets(ledger: Ledger, myKey: string, ref: string): RosterEntry[] {
  const me = ledger.member(myKey);
  if (!me?.active || !privileged(me.role)) {
    throw new LedgerError(ErrorCode.NOT_AUTHORIZED, `only an owner or admin may remove a member (this device is ${me?.active ? me.role : 'not an active member'})`);
  }
  const targets = ledger.roster().filter((m) => m.active && (m.key === ref || m.memberId === ref || m.name === ref));
  if (targets.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, `no active member or device "${ref}"`);
  if (targets.some((t) => t.key === myKey)) throw new LedgerError(ErrorCode.BAD_INPUT, 'a device cannot remove itself');
  if (me.role !== 'owner' && targets.some((t) => privileged(t.role))) {
    throw new LedgerError(ErrorCode.NOT_AUTHORIZED, 'only an owner may remove an owner or admin');
  }
  return targets;
}

/**
 * One device of a member (the Team page's "Remove this device"): `key` must be an active device key, checked as
 * removalTargets checks a member. The member's other devices stay.
 */
export function deviceRemovalTarget(ledger: Ledger, myKey: string, key: string): RosterEntry {
  const me = ledger.member(myKey);
  if (!me?.active || !privileged(me.role)) {
    throw new LedgerError(ErrorCode.NOT_AUTHORIZED, `only an owner or admin may remove a device (this device is ${me?.active ? me.role : 'not an active member'})`);
  }
  const target = ledger.member(key);
  if (!target?.active) throw new LedgerError(ErrorCode.NOT_FOUND, `no active device ${key.slice(0, 12)}…`);
  if (key === myKey) throw new LedgerError(ErrorCode.BAD_INPUT, 'a device cannot remove itself');
  if (me.role !== 'owner' && privileged(target.role)) throw new LedgerError(ErrorCode.NOT_AUTHORIZED, "only an owner may remove an owner's or admin's device");
  return target;
}

/**
 * Records the removal of each target and rotates the team key: epoch + 1, covering the removals of every
 * earlier epoch and these. Returns the events and the new key (already stored).
 */
export async function removeAndRotate(ledger: Ledger, storage: StorageAdapter, targets: RosterEntry[]): Promise<{ events: EventId[]; team: TeamKey }> {
  const events: EventId[] = [];
  for (const t of targets) {
    const ev = await ledger.append('member', { action: 'remove', member: { id: t.memberId, name: t.name, key: t.key, role: t.role } });
    events.push(ev.id);
  }
  const keys = await loadTeamKeys(storage);
  const team = newTeamKey((keys[0]?.epoch ?? 0) + 1, [...(keys[0]?.covers ?? []), ...events]);
  await saveTeamKey(storage, team);
  return { events, team };
}

/** Who removed a device, when, by which event. */
export interface Removal {
  eventId: EventId;
  /** The removed device key. */
  key: string;
  /** The owner's or admin's device key that signed the removal, and the name the roster gives it. */
  by: string;
  byName: string;
  /** The removal event's time (RFC 3339). */
  at: string;
}

/** The removal of `key` as this ledger holds it, when its roster says the key was removed. */
export function removalOf(ledger: Ledger, key: string): Removal | undefined {
  const m = ledger.member(key);
  if (!m || m.active) return undefined;
  const ev = ledger.get(m.since);
  if (!ev || ev.event.type !== 'member') return undefined;
  return { eventId: ev.id, key, by: ev.event.author, byName: ledger.member(ev.event.author)?.name ?? '', at: ev.event.time };
}

/** The removal notice for a removed key: the signed removal event's canonical envelope, or undefined. */
export function removalNotice(ledger: Ledger, key: string): string | undefined {
  const r = removalOf(ledger, key);
  const ev = r && ledger.get(r.eventId);
  return ev && canonicalJson({ event: ev.event, sig: ev.sig });
}

/**
 * Checks a removal notice that a peer sent this device (attacker-controlled until every check passes): one
 * envelope of this ledger, id and signature good, schema valid, a `member` `remove` of `myKey`, signed by a
 * device this device's roster holds as an active owner or admin (an owner when this device is an owner or
 * admin itself). The event's parents need not be held here: the notice says who removed this device, it does
 * not enter the ledger.
 */
export async function checkRemovalNotice(ledger: Ledger, json: string, myKey: string): Promise<Removal | undefined> {
  if (typeof json !== 'string' || json.length > 64 * 1024) return undefined;
  let id: string;
  try {
    const v = JSON.parse(json);
    if (typeof v?.event !== 'object' || v.event === null) return undefined;
    id = await eventId(v.event);
  } catch {
    return undefined;
  }
  const checked = await checkEntries([[id, json]], ledger.id);
  const ev = checked.events.get(id as EventId);
  if (!ev || checked.problems.length > 0) return undefined;
  const body = ev.event.body as { action?: string; member?: { key?: string } };
  if (ev.event.type !== 'member' || body.action !== 'remove' || body.member?.key !== myKey) return undefined;
  const author = ledger.member(ev.event.author);
  const me = ledger.member(myKey);
  if (!author?.active || !privileged(author.role)) return undefined;
  if (privileged(me?.role) && author.role !== 'owner') return undefined;
  return { eventId: ev.id, key: myKey, by: ev.event.author, byName: author.name, at: ev.event.time };
}
