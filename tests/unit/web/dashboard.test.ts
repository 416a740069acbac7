/**
 * The dashboard's figures summed in the worker (dashboardFacts) and finished on the page (dashboardView) are
 * the dashboard's lists cut to what it shows; gaps() is checked against a deliberately naive reference.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { LedgerEvent } from '../../../src/lib/core/event.ts';
import { SHOWN, dashboardFacts, dashboardView, isDashboardFacts } from '../../../src/lib/core/dashboard.ts';
import {
  DAY_MS,
  counts,
  gaps,
  platformOf,
  policyReviews,
  snapshotTime,
  stillOnServers,
  typeOf
} from '../../../src/lib/core/insights.ts';
import { mergeEvents } from '../../../src/lib/engine/session.svelte.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const PLATFORMS = ['Tripo', 'Meshy', 'Rodin'];
const iso = (ms: number) => new Date(ms).toISOString();

/** A ledger of generations, snapshots, checklists and deletions with ids and times drawn by fast-check. */
const ledgerArb = fc
  .array(
    fc.record({
      kind: fc.constantFrom('generation', 'policy-snapshot', 'checklist', 'deletion'),
      day: fc.integer({ min: 0, max: 400 }),
      platform: fc.integer({ min: 0, max: 2 }),
      cls: fc.constantFrom('public', 'personal', 'confidential', 'client'),
      ref: fc.nat(),
      status: fc.constantFrom('requested', 'confirmed', 'failed')
    }),
    { maxLength: 60 }
  )
  .map((rows) => {
    const events: LedgerEvent[] = [];
    rows.forEach((r, i) => {
      const id = `e${String(i).padStart(3, '0')}`;
      const time = iso(T0 + r.day * DAY_MS + i);
      const pick = (type: string) => {
        const c = events.filter((e) => typeOf(e) === type);
        return c.length ? c[r.ref % c.length].id : undefined;
      };
      const platform = { name: PLATFORMS[r.platform] };
      let body: Record<string, unknown>;
      if (r.kind === 'generation') {
        body = {
          platform,
          project: `P${r.platform}`,
          classification: r.cls,
          outputs: [{ name: `${id}.glb`, sha256: id }],
          checklist: pick('checklist'),
          policySnapshots: [pick('policy-snapshot')].filter(Boolean)
        };
      } else if (r.kind === 'policy-snapshot') {
        body = { platform, kind: 'privacy', retrievedAt: time };
      } else if (r.kind === 'checklist') {
        body = { project: `P${r.platform}`, platform };
      } else {
        body = { target: { generation: pick('generation') }, status: r.status };
      }
      events.push({ id, event: { type: r.kind, time, body }, sig: '' } as unknown as LedgerEvent);
    });
    return events.sort((a, b) => (a.event.time < b.event.time ? -1 : 1));
  });

/** gaps() as first written: every snapshot checked for every generation. */
function naiveGaps(events: LedgerEvent[]): string[] {
  const byId = new Map<string, LedgerEvent>(events.map((e) => [e.id, e]));
  const snaps = events.filter((e) => typeOf(e) === 'policy-snapshot');
  const out: string[] = [];
  for (const e of events) {
    const b = e.event.body as Record<string, any>;
    if (typeOf(e) !== 'generation' || (b.classification !== 'confidential' && b.classification !== 'client')) continue;
    const g = Date.parse(e.event.time);
    const fresh = (s: LedgerEvent) => {
      const t = Date.parse(snapshotTime(s));
      return t <= g + 60_000 && g - t <= 90 * DAY_MS;
    };
    const noChecklist = !b.checklist || byId.get(b.checklist)?.event.type !== 'checklist';
    const cited = (b.policySnapshots as string[])
      .map((id) => byId.get(id))
      .filter((s): s is LedgerEvent => !!s && typeOf(s) === 'policy-snapshot');
    const noFresh = !(cited.some(fresh) || snaps.some((s) => platformOf(s) === platformOf(e) && fresh(s)));
    if (noChecklist || noFresh) out.push(e.id);
  }
  return out.sort();
}

describe('dashboard facts', () => {
  it('are the dashboard lists cut to what it shows, and gaps match the naive reference', () => {
    fc.assert(
      fc.property(ledgerArb, fc.integer({ min: 0, max: 500 }), (events, nowDay) => {
        const now = T0 + nowDay * DAY_MS;
        const facts = JSON.parse(JSON.stringify(dashboardFacts(events))); // as it crosses to the page
        expect(isDashboardFacts(facts)).toBe(true);
        const v = dashboardView(facts, now);
        const servers = stillOnServers(events, now);
        const g = gaps(events);
        expect(v.counts).toEqual(counts(events));
        expect(v.onServers.total).toBe(servers.length);
        expect(v.onServers.oldest).toEqual(JSON.parse(JSON.stringify(servers.slice(0, SHOWN))));
        expect(v.reviews).toEqual(policyReviews(events, now));
        expect(v.dueCount).toBe(policyReviews(events, now).filter((r) => r.due).length);
        expect(v.gaps.total).toBe(g.length);
        expect(v.gaps.newest.map((x) => x.id)).toEqual(g.slice(0, SHOWN).map((x) => x.id));
        expect(g.map((x) => x.id).sort()).toEqual(naiveGaps(events));
        expect(v.recent.map((e) => e.id)).toEqual(
          events
            .slice(-SHOWN)
            .reverse()
            .map((e) => e.id)
        );
      }),
      { numRuns: 150 }
    );
  });

  it('refuses facts of the wrong shape', () => {
    expect(isDashboardFacts(null)).toBe(false);
    expect(isDashboardFacts({ counts: {} })).toBe(false);
  });
});

describe('mergeEvents', () => {
  const ev = (id: string, time: string) => ({ id, event: { time } }) as unknown as LedgerEvent;
  it('adds new events in ledger order and ignores ones already held', () => {
    const list = [ev('a', '2026-01-01'), ev('c', '2026-01-03')];
    const ids = new Set(list.map((e) => e.id));
    expect(mergeEvents(list, [ev('a', '2026-01-01')], ids)).toBe(list);
    expect(mergeEvents(list, [ev('d', '2026-01-04'), ev('d', '2026-01-04')], ids).map((e) => e.id)).toEqual([
      'a',
      'c',
      'd'
    ]);
    expect(mergeEvents(list, [ev('b', '2026-01-02'), ev('0', '2025-12-31')], ids).map((e) => e.id)).toEqual([
      '0',
      'a',
      'b',
      'c'
    ]);
  });
});
