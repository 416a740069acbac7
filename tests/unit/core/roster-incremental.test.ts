/**
 * extendAcceptance decides new events exactly as decideAcceptance over everything would (random ledgers with
 * members added, demoted and removed on concurrent branches, clocks behind, unknown authors).
 */
import { describe, expect, it } from 'vitest';
import { decideAcceptance, extendAcceptance, extendIndex, type PastIndex } from '../../../src/lib/core/roster.ts';
import type { EventId, LedgerEvent } from '../../../src/lib/core/event.ts';

function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function randomLedger(seed: number, n: number): LedgerEvent[] {
  const r = rng(seed);
  const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
  const id = (i: number) =>
    (i.toString(16).padStart(8, '0') + Math.floor(r() * 1e9).toString(16)).padEnd(64, '0') as EventId;
  const out: LedgerEvent[] = [];
  const g: LedgerEvent = {
    id: id(0),
    sig: '',
    event: {
      type: 'member',
      author: 'k0',
      time: '2026-01-01T00:00:00.000Z',
      parents: [],
      body: { action: 'create', member: { id: 'm0', name: 'o', key: 'k0', role: 'owner' } }
    } as never
  };
  out.push(g);
  for (let i = 1; i < n; i++) {
    const parents = [
      ...new Set(
        Array.from({ length: 1 + Math.floor(r() * 2) }, () => out[Math.max(0, out.length - 1 - Math.floor(r() * 6))].id)
      )
    ].sort();
    const pt = Math.max(...parents.map((p) => Date.parse(out.find((e) => e.id === p)!.event.time)));
    const time = new Date(pt + Math.floor(r() * 3) - (r() < 0.05 ? 5 : 0)).toISOString();
    const author = keys[Math.floor(r() * keys.length)];
    const member = r() < 0.15;
    const target = keys[1 + Math.floor(r() * (keys.length - 1))];
    const action = ['add', 'update', 'remove'][Math.floor(r() * 3)];
    const role = ['admin', 'member', 'viewer'][Math.floor(r() * 3)];
    const event = member
      ? {
          type: 'member',
          author,
          time,
          parents,
          ledger: g.id,
          body: { action, member: { id: target, name: target, key: target, role } }
        }
      : { type: 'generation', author, time, parents, ledger: g.id, body: {} };
    out.push({ id: id(i), sig: '', event } as never);
  }
  return out;
}

/** What sync keeps (parents first): an event whose parent does not count is refused with it. */
function closed(order: EventId[], fresh: Map<EventId, LedgerEvent>, held: Map<EventId, LedgerEvent>): EventId[] {
  const kept = new Set<EventId>();
  for (const id of order)
    if (fresh.get(id)!.event.parents.every((p) => held.has(p as EventId) || kept.has(p as EventId))) kept.add(id);
  return order.filter((id) => kept.has(id));
}

describe('extendAcceptance', () => {
  it('decides each batch as decideAcceptance over held plus fresh does', () => {
    let incremental = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const all = randomLedger(seed, 160);
      // Two ledgers receive the same batches: one decides everything again each time (reference), one extends.
      const refHeld = new Map<EventId, LedgerEvent>();
      const held = new Map<EventId, LedgerEvent>();
      let index: PastIndex | null = null;
      let i = 0;
      const r = rng(seed * 7);
      while (i < all.length) {
        const size = 1 + Math.floor(r() * 12);
        const batch = all.slice(i, i + size);
        i += size;
        // As the ledger does: an event naming a parent held by neither is left out.
        const present = (h: Map<EventId, LedgerEvent>) => {
          const m = new Map(batch.map((e) => [e.id, e]));
          for (const e of batch)
            if (e.event.parents.some((p) => !m.has(p as EventId) && !h.has(p as EventId))) m.delete(e.id);
          return m;
        };
        const refFresh = present(refHeld);
        const ref = decideAcceptance(new Map([...refHeld, ...refFresh]), all[0].id);
        const refAccepted = closed(
          ref.order.filter((id) => refFresh.has(id)),
          refFresh,
          refHeld
        );
        for (const id of refAccepted) refHeld.set(id, refFresh.get(id)!);

        const fresh = present(held);
        const got = index && extendAcceptance(index, (id) => held.get(id), fresh);
        let accepted: EventId[];
        if (got && index) {
          incremental++;
          accepted = closed(got.order, fresh, held);
          for (const id of accepted) held.set(id, fresh.get(id)!);
          for (const [id, p] of got.past) index.past.set(id, p);
        } else {
          const acc = decideAcceptance(new Map([...held, ...fresh]), all[0].id);
          accepted = closed(
            acc.order.filter((id) => fresh.has(id)),
            fresh,
            held
          );
          for (const id of accepted) held.set(id, fresh.get(id)!);
          index = acc.index;
        }
        expect(accepted, `seed ${seed} at ${i}`).toEqual(refAccepted);
      }
      expect([...held.keys()].sort()).toEqual([...refHeld.keys()].sort());
    }
    expect(incremental).toBeGreaterThan(100);
  });

  it('extendIndex records an appended event as decideAcceptance would', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const all = randomLedger(seed, 120);
      const acc = decideAcceptance(new Map(all.map((e) => [e.id, e])), all[0].id);
      const held = new Map<EventId, LedgerEvent>();
      for (const id of closed(acc.order, new Map(all.map((e) => [e.id, e])), new Map()))
        held.set(
          id,
          all.find((e) => e.id === id)!
        );
      const index = decideAcceptance(held, all[0].id).index;
      const heads = [...held.keys()]
        .filter((id) => ![...held.values()].some((e) => e.event.parents.includes(id)))
        .sort();
      const time = new Date(Math.max(...heads.map((h) => Date.parse(held.get(h)!.event.time)))).toISOString();
      const ev = {
        id: 'f'.repeat(64) as EventId,
        sig: '',
        event: { type: 'generation', author: 'k0', time, parents: heads, ledger: all[0].id, body: {} }
      } as never as LedgerEvent;
      extendIndex(index, (id) => held.get(id), ev);
      const again = decideAcceptance(new Map([...held, [ev.id, ev]]), all[0].id);
      expect(index.past.get(ev.id)).toEqual(again.index.past.get(ev.id));
    }
  });
});
