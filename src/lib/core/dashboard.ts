/**
 * The dashboard's figures in two steps, so the page never needs the whole event list to show them:
 *
 *   dashboardFacts(events)   in the ledger worker, over every event: what does not depend on the clock
 *                            (counts, the oldest assets still on a platform's servers, each platform's latest
 *                            snapshot, the newest gaps, the latest events). A few kilobytes at any ledger size;
 *                            kept in the open cache, so a page load shows the dashboard before the ledger loads.
 *   dashboardView(facts, now) on the page: ages in days and which reviews are due, at `now`.
 *
 * Both are pure; the lists are cut to what the dashboard shows (SHOWN) with their full lengths beside them.
 */
import type { LedgerEvent } from '#lib/core/event.ts';
import {
  counts,
  gaps,
  onServerFacts,
  platformFacts,
  reviewsOf,
  withAge,
  type Counts,
  type Gap,
  type OnServer,
  type OnServerFact,
  type PlatformFact,
  type PolicyStatus
} from './insights.ts';

/** How many entries each list on the dashboard shows. */
export const SHOWN = 8;

export interface DashboardFacts {
  counts: Counts;
  /** Assets still on a platform's servers: how many, and the oldest SHOWN. */
  onServers: { total: number; oldest: OnServerFact[] };
  /** Every platform the ledger knows with its latest snapshot (one entry per platform: a short list). */
  platforms: PlatformFact[];
  /** Gaps: how many, and the newest SHOWN. */
  gaps: { total: number; newest: Gap[] };
  /** The newest SHOWN events, newest first. */
  recent: LedgerEvent[];
}

export interface DashboardView {
  counts: Counts;
  onServers: { total: number; oldest: OnServer[] };
  reviews: PolicyStatus[];
  dueCount: number;
  gaps: { total: number; newest: Gap[] };
  recent: LedgerEvent[];
}

/** The clock-free figures over every event (events oldest first, as Ledger.events() gives them). */
export function dashboardFacts(events: readonly LedgerEvent[]): DashboardFacts {
  const servers = onServerFacts(events);
  const gapList = gaps(events);
  return {
    counts: counts(events),
    onServers: { total: servers.length, oldest: servers.slice(0, SHOWN) },
    platforms: platformFacts(events),
    gaps: { total: gapList.length, newest: gapList.slice(0, SHOWN) },
    recent: events.slice(-SHOWN).reverse()
  };
}

/** What the dashboard shows at `now`. */
export function dashboardView(facts: DashboardFacts, now = Date.now()): DashboardView {
  const reviews = reviewsOf(facts.platforms, now);
  return {
    counts: facts.counts,
    onServers: { total: facts.onServers.total, oldest: withAge(facts.onServers.oldest, now) },
    reviews,
    dueCount: reviews.filter((r) => r.due).length,
    gaps: facts.gaps,
    recent: facts.recent
  };
}

/** Whether a value that crossed a boundary (the open cache, a worker message) has the shape of DashboardFacts. */
export function isDashboardFacts(v: unknown): v is DashboardFacts {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  const list = (o: unknown, key: string) =>
    typeof o === 'object' && o !== null && Array.isArray((o as Record<string, unknown>)[key]);
  return (
    typeof f.counts === 'object' &&
    f.counts !== null &&
    typeof (f.counts as Counts).events === 'number' &&
    list(f.onServers, 'oldest') &&
    Array.isArray(f.platforms) &&
    list(f.gaps, 'newest') &&
    Array.isArray(f.recent)
  );
}

/** Facts per event list: Ledger.events() gives the same array until the ledger changes, so each list is summed once. */
const memo = new WeakMap<readonly LedgerEvent[], DashboardFacts>();
export function factsOf(events: readonly LedgerEvent[]): DashboardFacts {
  let f = memo.get(events);
  if (!f) memo.set(events, (f = dashboardFacts(events)));
  return f;
}
