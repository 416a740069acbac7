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
 * recorded it (a *removal notice*). The device checks it against its own roster before believing it, keeps it
 * (`team/removed`), and from then on records nothing (Ledger refuses appends: AUTHOR_REMOVED), in the CLI and the
 * web app alike, until the ledger shows the key added again after the removal.
 */
import { canonicalJson } from '../canonical.ts';
import { ErrorCode, LedgerError } from '../errors.ts';
import { fromUtf8, utf8 } from '../bytes.ts';
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
    throw new LedgerError(
      ErrorCode.NOT_AUTHORIZED,
      `only an owner or admin may remove a member (this device is ${me?.active ? me.role : 'not an active member'})`
    );
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
    throw new LedgerError(
      ErrorCode.NOT_AUTHORIZED,
      `only an owner or admin may remove a device (this device is ${me?.active ? me.role : 'not an active member'})`
    );
  }
  const target = ledger.member(key);
  if (!target?.active) throw new LedgerError(ErrorCode.NOT_FOUND, `no active device ${key.slice(0, 12)}…`);
  if (key === myKey) throw new LedgerError(ErrorCode.BAD_INPUT, 'a device cannot remove itself');
  if (me.role !== 'owner' && privileged(target.role))
    throw new LedgerError(ErrorCode.NOT_AUTHORIZED, "only an owner may remove an owner's or admin's device");
  return target;
}

/**
 * Records the removal of each target and rotates the team key: epoch + 1, covering the removals of every
 * earlier epoch and these. Returns the events and the new key (already stored).
 */
export async function removeAndRotate(
  ledger: Ledger,
  storage: StorageAdapter,
  targets: RosterEntry[]
): Promise<{ events: EventId[]; team: TeamKey }> {
  const events: EventId[] = [];
  for (const t of targets) {
    const ev = await ledger.append('member', {
      action: 'remove',
      member: { id: t.memberId, name: t.name, key: t.key, role: t.role }
    });
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
  /** The signed removal event (its envelope's canonical JSON), when a peer showed it as a notice. */
  notice?: string;
}

/** The removal of `key` as this ledger holds it, when its roster says the key was removed. */
export function removalOf(ledger: Ledger, key: string): Removal | undefined {
  const m = ledger.member(key);
  if (!m || m.active) return undefined;
  const ev = ledger.get(m.since);
  if (!ev || ev.event.type !== 'member') return undefined;
  return {
    eventId: ev.id,
    key,
    by: ev.event.author,
    byName: ledger.member(ev.event.author)?.name ?? '',
    at: ev.event.time
  };
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
  return { eventId: ev.id, key: myKey, by: ev.event.author, byName: author.name, at: ev.event.time, notice: json };
}

/** Where a device keeps the removal notice it was shown: the envelope's canonical JSON, as received. */
export const REMOVAL_NOTICE_KEY = ['team', 'removed'];

/**
 * Keeps a checked removal notice (checkRemovalNotice) and makes the ledger refuse appends from now on. The
 * notice is written before the ledger is told, so a crash between the two leaves it kept (and applied at the
 * next open).
 */
export async function keepRemovalNotice(storage: StorageAdapter, ledger: Ledger, removal: Removal): Promise<void> {
  if (!removal.notice) throw new LedgerError(ErrorCode.BAD_INPUT, 'a removal notice without the signed removal event');
  await storage.save(REMOVAL_NOTICE_KEY, utf8(removal.notice));
  ledger.refuseAppends(removal);
}

/**
 * The removal notice this device keeps, checked again against its ledger (checkRemovalNotice), or undefined when
 * there is none, it does not check, or the key was added again after the removal (stillRemoved). A notice kept
 * by an earlier web app (its summary in JSON, checked when it came, without the signed event) still counts for
 * the ledger and key it names.
 */
export async function loadRemovalNotice(
  storage: StorageAdapter,
  ledger: Ledger,
  myKey: string
): Promise<Removal | undefined> {
  const b = await storage.load(REMOVAL_NOTICE_KEY).catch(() => undefined);
  if (!b) return undefined;
  let json: string;
  let v: {
    event?: unknown;
    eventId?: unknown;
    key?: unknown;
    by?: unknown;
    byName?: unknown;
    at?: unknown;
    ledger?: unknown;
  };
  try {
    json = fromUtf8(b);
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  let r: Removal | undefined;
  if (v && typeof v === 'object' && 'event' in v) r = await checkRemovalNotice(ledger, json, myKey);
  else if (
    v &&
    v.key === myKey &&
    v.ledger === ledger.id &&
    typeof v.eventId === 'string' &&
    typeof v.by === 'string' &&
    typeof v.at === 'string'
  ) {
    r = {
      eventId: v.eventId as EventId,
      key: myKey,
      by: v.by,
      byName: typeof v.byName === 'string' ? v.byName : '',
      at: v.at
    };
  }
  return r && stillRemoved(ledger, myKey, r) ? r : undefined;
}

/**
 * Whether a removal still holds for `key`: not when the ledger shows the key active again after it (it holds the
 * removal and the key is active, so an add followed it; or the key's entry changed after the removal's time).
 */
export function stillRemoved(ledger: Ledger, key: string, r: Removal): boolean {
  const m = ledger.member(key);
  if (!m?.active) return true;
  if (ledger.get(r.eventId)) return false;
  return (ledger.get(m.since)?.event.time ?? '') <= r.at;
}
