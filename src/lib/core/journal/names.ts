/**
 * The author name a commit carries: the member name that the roster formed by the event's causal past gives
 * the author's key (the latest member event in that past that names the key). So it is a function of the
 * event and its ancestors, the same on every device that holds them, and a later rename never rewrites an
 * older commit. Fed events parents first (each event after every parent it names that the set holds).
 */
import type { EventId, LedgerEvent } from '../event.ts';

interface MemberBody {
  action: string;
  member: { key: string; name: string; id: string };
}

const EMPTY: EventId[] = [];

export class AuthorNames {
  /** Member events in each event's causal past, oldest first (sharing arrays when equal). */
  #past = new Map<EventId, EventId[]>();
  #members = new Map<EventId, MemberBody>();
  #names = new Map<EventId, string>();

  has(id: string): boolean {
    return this.#past.has(id as EventId);
  }

  /** Adds one event whose parents were added before (unknown parents are skipped). Returns its author name. */
  add(ev: LedgerEvent): string {
    const known = this.#names.get(ev.id);
    if (known !== undefined) return known;
    let mine = EMPTY;
    for (const p of ev.event.parents as EventId[]) {
      let fromP = this.#past.get(p);
      if (!fromP) continue;
      if (this.#members.has(p)) fromP = [...fromP, p];
      if (mine === EMPTY) mine = fromP;
      else if (mine !== fromP) mine = union(mine, fromP);
    }
    this.#past.set(ev.id, mine);
    if (ev.event.type === 'member') this.#members.set(ev.id, ev.event.body as MemberBody);
    let name: string | undefined;
    for (let i = mine.length - 1; i >= 0 && name === undefined; i--) {
      const b = this.#members.get(mine[i])!;
      if (b.member?.key === ev.event.author && b.action !== 'remove') name = b.member.name;
    }
    if (name === undefined && ev.event.type === 'member') {
      const b = ev.event.body as MemberBody;
      if (b.action === 'create') name = b.member?.name;
    }
    name ??= '';
    this.#names.set(ev.id, name);
    return name;
  }

  get(id: string): string | undefined {
    return this.#names.get(id as EventId);
  }
}

function union(a: EventId[], b: EventId[]): EventId[] {
  const s = new Set(a);
  const extra = b.filter((x) => !s.has(x));
  if (extra.length === 0) return a;
  const sb = new Set(b);
  if (a.every((x) => sb.has(x))) return b;
  return [...a, ...extra];
}
