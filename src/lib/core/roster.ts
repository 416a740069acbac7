/**
 * Who may write: the roster of a ledger is derived from its member events, and an event counts only if its
 * author was an active member, with a role allowed to record it, in the roster formed by the member events
 * in the event's causal past (its ancestors through `parents`).
 *
 * Rules (ledger-schema/README.md, "Membership"):
 *  - the genesis event (member, action "create", no `ledger`) makes its author the owner;
 *  - add / update / remove are recorded by an owner or an admin; granting, changing or revoking the owner or
 *    admin role takes an owner;
 *  - viewers record nothing; members and above record every other type;
 *  - a removed key's events whose causal past holds the removal are rejected.
 */
import { ErrorCode } from './errors.ts';
import type { EventId, LedgerEvent } from './event.ts';
import { parentsOf, timeOf } from './stored-event.ts';

export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export interface RosterEntry {
  key: string;
  memberId: string;
  name: string;
  role: Role;
  active: boolean;
  /** The member event that last changed this entry. */
  since: EventId;
}

export type Roster = Map<string, RosterEntry>;

export interface Rejection {
  id: EventId;
  code: ErrorCode;
  message: string;
}

interface MemberBody {
  action: 'create' | 'add' | 'update' | 'remove';
  member: { id: string; name: string; key: string; role: Role };
}

const isPrivileged = (r: Role | undefined) => r === 'owner' || r === 'admin';

/** Applies one accepted member event to a roster (in place). */
function apply(roster: Roster, ev: LedgerEvent): void {
  const b = ev.event.body as MemberBody;
  const m = b.member;
  if (b.action === 'remove') {
    const cur = roster.get(m.key);
    if (cur) roster.set(m.key, { ...cur, active: false, since: ev.id });
    return;
  }
  const role: Role = b.action === 'create' ? 'owner' : m.role;
  roster.set(m.key, { key: m.key, memberId: m.id, name: m.name, role, active: true, since: ev.id });
}

/** Why `ev` may not be accepted given the roster of its causal past, or undefined when it may. */
function authorize(roster: Roster, ev: LedgerEvent): Rejection | undefined {
  const author = ev.event.author;
  const me = roster.get(author);
  const reject = (code: ErrorCode, message: string): Rejection => ({ id: ev.id, code, message });
  if (!me)
    return reject(ErrorCode.UNKNOWN_AUTHOR, `author ${author.slice(0, 12)}… is not in the roster of this event's past`);
  if (!me.active)
    return reject(
      ErrorCode.REMOVED_AUTHOR,
      `author ${me.name} (${author.slice(0, 12)}…) was removed by event ${me.since}`
    );
  if (me.role === 'viewer')
    return reject(ErrorCode.NOT_AUTHORIZED, `author ${me.name} is a viewer and may not record events`);
  if (ev.event.type !== 'member') return undefined;
  const b = ev.event.body as MemberBody;
  if (b.action === 'create') return reject(ErrorCode.GENESIS, 'only the genesis event may create the ledger');
  if (!isPrivileged(me.role))
    return reject(ErrorCode.NOT_AUTHORIZED, `author ${me.name} (${me.role}) may not change the roster`);
  const target = roster.get(b.member.key);
  if (b.action === 'update' || b.action === 'remove') {
    if (!target) return reject(ErrorCode.NOT_AUTHORIZED, `key ${b.member.key.slice(0, 12)}… is not in the roster`);
  }
  const touchesPrivilege = isPrivileged(target?.role) || (b.action !== 'remove' && isPrivileged(b.member.role));
  if (touchesPrivilege && me.role !== 'owner') {
    return reject(ErrorCode.NOT_AUTHORIZED, `only an owner may grant, change or revoke the owner or admin role`);
  }
  return undefined;
}

export function isGenesis(ev: LedgerEvent): boolean {
  return (
    ev.event.type === 'member' && (ev.event.body as MemberBody).action === 'create' && ev.event.ledger === undefined
  );
}

export interface Acceptance {
  accepted: Set<EventId>;
  rejected: Rejection[];
  /** The roster after every accepted member event (the ledger's current roster). */
  roster: Roster;
  /** Accepted events in a deterministic topological order (parents first; ties by time, then id). */
  order: EventId[];
  /** What extendAcceptance needs to decide later events without deciding these again. */
  index: PastIndex;
}

/**
 * The accepted member events in the causal past of each accepted event (arrays shared when equal), and each
 * accepted member event's position in the topological order. Adding events never changes the relative order of
 * events already held (new events are never their ancestors), so positions stay valid as the ledger grows.
 */
export interface PastIndex {
  past: Map<EventId, EventId[]>;
  position: Map<EventId, number>;
  /** Rosters of pasts, by array identity. */
  rosters: WeakMap<EventId[], Roster>;
  /** [...past(m), m] for accepted member events m, shared. */
  withSelf: Map<EventId, EventId[]>;
}

/**
 * Decides which events count. `events` must already have passed the per-event checks (schema, id, signature,
 * ledger id). Edges to events outside the map are ignored here (the caller reports missing parents).
 */
export function decideAcceptance(events: Map<EventId, LedgerEvent>, genesisId: EventId | undefined): Acceptance {
  const order = topoOrder(events);
  const position = new Map<EventId, number>();
  order.forEach((id, i) => position.set(id, i));

  const accepted = new Set<EventId>();
  const rejected: Rejection[] = [];
  /** The accepted member events in each event's causal past, sorted by topo position. Shared when equal. */
  const past = new Map<EventId, EventId[]>();
  // Pasts are shared arrays when equal (see union), so the roster of a past is cached by array identity,
  // and by content for arrays built separately.
  const byArray = new WeakMap<EventId[], Roster>();
  const byContent = new Map<string, Roster>();
  const EMPTY: EventId[] = [];

  const rosterOf = (members: EventId[]): Roster => {
    let r = byArray.get(members);
    if (r) return r;
    const k = members.join(',');
    r = byContent.get(k);
    if (!r) {
      r = new Map();
      for (const id of members) apply(r, events.get(id)!);
      if (byContent.size > 4096) byContent.clear();
      byContent.set(k, r);
    }
    byArray.set(members, r);
    return r;
  };

  for (const id of order) {
    const ev = events.get(id)!;
    // The member events in this event's past: the union of its parents' pasts, plus accepted member parents.
    let mine: EventId[] = EMPTY;
    for (const p of ev.event.parents as EventId[]) {
      if (!events.has(p)) continue;
      let fromP = past.get(p) ?? EMPTY;
      if (accepted.has(p) && events.get(p)!.event.type === 'member') fromP = [...fromP, p];
      mine = mine === EMPTY ? fromP : mine === fromP ? mine : union(mine, fromP, position);
    }
    past.set(id, mine);

    if (isGenesis(ev)) {
      if (id === genesisId) accepted.add(id);
      else
        rejected.push({ id, code: ErrorCode.GENESIS, message: 'a second genesis event: this ledger already has one' });
      continue;
    }
    const early = (ev.event.parents as EventId[]).find(
      (p) => events.has(p) && events.get(p)!.event.time > ev.event.time
    );
    if (early) {
      rejected.push({
        id,
        code: ErrorCode.TIME_ORDER,
        message: `its time ${ev.event.time} is before its parent ${early}'s time`
      });
      continue;
    }
    const why = authorize(rosterOf(mine), ev);
    if (why) rejected.push(why);
    else accepted.add(id);
  }

  const finalMembers = order.filter((id) => accepted.has(id) && events.get(id)!.event.type === 'member');
  const index: PastIndex = { past: new Map(), position: new Map(), rosters: new WeakMap(), withSelf: new Map() };
  for (const id of accepted) index.past.set(id, past.get(id)!);
  for (const id of finalMembers) index.position.set(id, position.get(id)!);
  return { accepted, rejected, roster: rosterOf(finalMembers), order: order.filter((id) => accepted.has(id)), index };
}

/**
 * Decides `fresh` events against held events already decided (all accepted, summarized by `index`), with the
 * very decisions decideAcceptance would make over held and fresh together, in time proportional to `fresh`.
 * Returns undefined when `fresh` holds a member event (its place among the held member events changes rosters:
 * the caller runs decideAcceptance over everything). Edges to events in neither are ignored, as there.
 * The accepted events' pasts are returned in `past`; the caller adds them to the index once they are stored.
 */
export function extendAcceptance(
  index: PastIndex,
  held: (id: EventId) => LedgerEvent | undefined,
  fresh: Map<EventId, LedgerEvent>
): { accepted: Set<EventId>; rejected: Rejection[]; order: EventId[]; past: Map<EventId, EventId[]> } | undefined {
  for (const ev of fresh.values()) if (ev.event.type === 'member') return undefined;
  const order = topoOrder(fresh);
  const accepted = new Set<EventId>();
  const rejected: Rejection[] = [];
  const past = new Map<EventId, EventId[]>();
  const EMPTY = NONE;
  for (const id of order) {
    const ev = fresh.get(id)!;
    let mine: EventId[] = EMPTY;
    let early: EventId | undefined;
    for (const p of ev.event.parents as EventId[]) {
      let fromP: EventId[];
      const f = fresh.get(p);
      if (f)
        fromP = past.get(p) ?? EMPTY; // fresh events are not member events: they add nothing themselves
      else {
        const h = held(p);
        if (!h) continue;
        fromP = h.event.type === 'member' ? pastWithSelf(index, p) : (index.past.get(p) ?? EMPTY);
      }
      if (!early && (f ?? held(p))!.event.time > ev.event.time) early = p;
      mine = mine === EMPTY ? fromP : mine === fromP ? mine : union(mine, fromP, index.position);
    }
    past.set(id, mine);
    if (early) {
      rejected.push({
        id,
        code: ErrorCode.TIME_ORDER,
        message: `its time ${ev.event.time} is before its parent ${early}'s time`
      });
      continue;
    }
    const why = authorize(indexRoster(index, held, mine), ev);
    if (why) rejected.push(why);
    else accepted.add(id);
  }
  for (const id of past.keys()) if (!accepted.has(id)) past.delete(id);
  return { accepted, rejected, order: order.filter((id) => accepted.has(id)), past };
}

/** Records the past of an event that counts (not a member event: those call for a new decideAcceptance). */
export function extendIndex(index: PastIndex, held: (id: EventId) => LedgerEvent | undefined, ev: LedgerEvent): void {
  let mine: EventId[] = NONE;
  for (const p of ev.event.parents as EventId[]) {
    const h = held(p);
    if (!h) continue;
    const fromP = h.event.type === 'member' ? pastWithSelf(index, p) : (index.past.get(p) ?? NONE);
    mine = mine === NONE ? fromP : mine === fromP ? mine : union(mine, fromP, index.position);
  }
  index.past.set(ev.id, mine);
}

const NONE: EventId[] = [];

function pastWithSelf(index: PastIndex, member: EventId): EventId[] {
  let a = index.withSelf.get(member);
  if (!a) index.withSelf.set(member, (a = [...(index.past.get(member) ?? []), member]));
  return a;
}

function indexRoster(index: PastIndex, held: (id: EventId) => LedgerEvent | undefined, members: EventId[]): Roster {
  let r = index.rosters.get(members);
  if (!r) {
    r = new Map();
    for (const id of members) apply(r, held(id)!);
    index.rosters.set(members, r);
  }
  return r;
}

function union(a: EventId[], b: EventId[], position: Map<EventId, number>): EventId[] {
  const s = new Set(a);
  let added = false;
  for (const x of b) {
    if (s.has(x)) continue;
    s.add(x);
    added = true;
  }
  if (!added) return a;
  return [...s].sort((x, y) => position.get(x)! - position.get(y)!);
}

/** Kahn's algorithm, parents first; among ready events the earliest (time, id) goes first. */
export function topoOrder(events: Map<EventId, LedgerEvent>): EventId[] {
  const ids = [...events.keys()];
  const index = new Map<EventId, number>();
  ids.forEach((id, i) => index.set(id, i));
  // Rank of each event by (time, id), so the heap compares integers.
  const byTime = ids.map((_, i) => i);
  const time = ids.map((id) => timeOf(events.get(id)!));
  byTime.sort((a, b) =>
    time[a] < time[b] ? -1 : time[a] > time[b] ? 1 : ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0
  );
  const rank = new Int32Array(ids.length);
  byTime.forEach((i, r) => (rank[i] = r));

  const waiting = new Int32Array(ids.length);
  const children: number[][] = ids.map(() => []);
  ids.forEach((id, i) => {
    for (const p of parentsOf(events.get(id)!) as EventId[]) {
      const pi = index.get(p);
      if (pi === undefined || pi === i) continue;
      waiting[i]++;
      children[pi].push(i);
    }
  });
  const heap = new MinHeap<number>((a, b) => rank[a] - rank[b], []);
  for (let i = 0; i < ids.length; i++) if (waiting[i] === 0) heap.push(i);
  const out: EventId[] = [];
  while (heap.size > 0) {
    const i = heap.pop()!;
    out.push(ids[i]);
    for (const c of children[i]) if (--waiting[c] === 0) heap.push(c);
  }
  return out;
}

class MinHeap<T> {
  #a: T[] = [];
  #cmp: (a: T, b: T) => number;
  constructor(cmp: (a: T, b: T) => number, items: T[]) {
    this.#cmp = cmp;
    for (const x of items) this.push(x);
  }
  get size() {
    return this.#a.length;
  }
  push(x: T) {
    const a = this.#a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#cmp(a[i], a[p]) >= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.#a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#cmp(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.#cmp(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Applies a newly accepted member event to the current roster (for appends, which extend all heads). */
export function applyToRoster(roster: Roster, ev: LedgerEvent): Rejection | undefined {
  const why = authorize(roster, ev);
  if (!why && ev.event.type === 'member') apply(roster, ev);
  return why;
}

/**
 * The roster after member events that are already known to count, given in a topological order (for a stored
 * ledger: sorted by time, then id, which is topological because an event's time is never before its parents').
 */
export function rosterOf(acceptedMemberEvents: Iterable<LedgerEvent>): Roster {
  const r: Roster = new Map();
  for (const ev of acceptedMemberEvents) apply(r, ev);
  return r;
}
