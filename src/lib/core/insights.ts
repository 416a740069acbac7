/**
 * What the dashboard tells from the events: counts, assets still on a platform's servers, policies due for
 * their quarterly review, generations with gaps (no checklist, no fresh policy review), recent activity.
 * Pure functions over the event list; every body field is read defensively (events come from peers too).
 */
import type { LedgerEvent } from '#lib/core/event.ts';

export const DAY_MS = 86_400_000;
/** A policy review is fresh for a quarter. */
export const REVIEW_DAYS = 90;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const bodyOf = (e: LedgerEvent): Record<string, unknown> => obj(obj(e.event).body);
export const typeOf = (e: LedgerEvent): string => str(obj(e.event).type) ?? 'unknown';
export const timeOf = (e: LedgerEvent): string => str(obj(e.event).time) ?? '';
export const platformOf = (e: LedgerEvent): string | undefined => str(obj(bodyOf(e).platform).name);
export const projectOf = (e: LedgerEvent): string | undefined => str(bodyOf(e).project);
export const classificationOf = (e: LedgerEvent): string | undefined => str(bodyOf(e).classification);
const ms = (iso: string): number => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
};

export interface FileInfo {
  name: string;
  sha256: string;
  size?: number;
  format?: string;
  set?: string;
  role?: string;
}

export const filesIn = (v: unknown): FileInfo[] =>
  arr(v).map((f) => {
    const o = obj(f);
    return {
      name: str(o.name) ?? '(unnamed)',
      sha256: str(o.sha256) ?? '',
      size: typeof o.size === 'number' ? o.size : undefined,
      format: str(o.format),
      set: str(o.set),
      role: str(o.role)
    };
  });

/** Public key → member name, from the member events (the latest name wins). */
export function memberNames(events: readonly LedgerEvent[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const e of events) {
    if (typeOf(e) !== 'member') continue;
    const m = obj(bodyOf(e).member);
    const key = str(m.key);
    const name = str(m.name);
    if (key && name) names.set(key, name);
  }
  return names;
}

export interface OnServerFact {
  id: string;
  time: string;
  platform: string;
  project: string;
  classification?: string;
  outputs: FileInfo[];
  /** A deletion was requested (or failed) but not confirmed. */
  deletion?: 'requested' | 'failed';
}

export interface OnServer extends OnServerFact {
  ageDays: number;
}

/** Generations whose cloud copy has no confirmed deletion, oldest first (without their age: see withAge). */
export function onServerFacts(events: readonly LedgerEvent[]): OnServerFact[] {
  const confirmedGen = new Set<string>();
  const confirmedFiles = new Set<string>();
  const pending = new Map<string, 'requested' | 'failed'>();
  for (const e of events) {
    if (typeOf(e) !== 'deletion') continue;
    const b = bodyOf(e);
    const t = obj(b.target);
    const status = str(b.status);
    const gen = str(t.generation);
    const files = arr(t.files).filter((f): f is string => typeof f === 'string');
    if (status === 'confirmed') {
      if (gen) confirmedGen.add(gen);
      for (const f of files) confirmedFiles.add(f);
    } else if ((status === 'requested' || status === 'failed') && gen) {
      pending.set(gen, status);
    }
  }
  const out: OnServerFact[] = [];
  for (const e of events) {
    if (typeOf(e) !== 'generation' || confirmedGen.has(e.id)) continue;
    const b = bodyOf(e);
    const outputs = filesIn(b.outputs);
    if (outputs.length > 0 && confirmedFiles.size > 0 && outputs.every((f) => confirmedFiles.has(f.sha256))) continue;
    const deletion = pending.get(e.id);
    out.push({
      id: e.id,
      time: timeOf(e),
      platform: platformOf(e) ?? '—',
      project: projectOf(e) ?? '—',
      classification: classificationOf(e),
      outputs,
      ...(deletion ? { deletion } : {})
    });
  }
  return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

/** Each one with its age in whole days at `now`. */
export const withAge = (facts: readonly OnServerFact[], now = Date.now()): OnServer[] =>
  facts.map((f) => ({ ...f, ageDays: Math.max(0, Math.floor((now - ms(f.time)) / DAY_MS)) }));

/** Generations whose cloud copy has no confirmed deletion, oldest first. */
export function stillOnServers(events: readonly LedgerEvent[], now = Date.now()): OnServer[] {
  return withAge(onServerFacts(events), now);
}

export interface PolicyStatus {
  platform: string;
  /** The latest snapshot of any kind for this platform, if any. */
  lastId?: string;
  lastTime?: string;
  /** Days since the latest snapshot (undefined: never reviewed). */
  ageDays?: number;
  due: boolean;
  /** When the next review is due (latest + 90 days); undefined when never reviewed. */
  dueAt?: string;
}

/** When a policy snapshot was retrieved (its retrievedAt, else the event time). */
export const snapshotTime = (e: LedgerEvent): string => str(bodyOf(e).retrievedAt) ?? timeOf(e);

/** A platform the ledger knows (from generations, checklists and snapshots) and its latest snapshot, if any. */
export interface PlatformFact {
  platform: string;
  lastId?: string;
  lastTime?: string;
}

export function platformFacts(events: readonly LedgerEvent[]): PlatformFact[] {
  const latest = new Map<string, LedgerEvent>();
  const platforms = new Set<string>();
  for (const e of events) {
    const t = typeOf(e);
    if (t !== 'generation' && t !== 'policy-snapshot' && t !== 'checklist') continue;
    const p = platformOf(e);
    if (!p) continue;
    platforms.add(p);
    if (t === 'policy-snapshot') {
      const prev = latest.get(p);
      if (!prev || snapshotTime(e) >= snapshotTime(prev)) latest.set(p, e);
    }
  }
  return [...platforms].map((platform) => {
    const last = latest.get(platform);
    return last ? { platform, lastId: last.id, lastTime: snapshotTime(last) } : { platform };
  });
}

/** The review status of each platform at `now`: due when no snapshot in the last 90 days. Due ones first, the most overdue first. */
export function reviewsOf(platforms: readonly PlatformFact[], now = Date.now()): PolicyStatus[] {
  const out: PolicyStatus[] = platforms.map(({ platform, lastId, lastTime }) => {
    if (!lastId || lastTime === undefined) return { platform, due: true };
    const ageDays = Math.max(0, Math.floor((now - ms(lastTime)) / DAY_MS));
    return {
      platform,
      lastId,
      lastTime,
      ageDays,
      due: now - ms(lastTime) > REVIEW_DAYS * DAY_MS,
      dueAt: new Date(ms(lastTime) + REVIEW_DAYS * DAY_MS).toISOString()
    };
  });
  const key = (s: PolicyStatus) => (s.lastTime ? ms(s.lastTime) : -Infinity);
  return out.sort((a, b) => Number(b.due) - Number(a.due) || key(a) - key(b) || a.platform.localeCompare(b.platform));
}

/**
 * The review status of every platform the ledger knows (from generations, checklists and snapshots):
 * due when no snapshot in the last 90 days. Due ones first, the most overdue first.
 */
export function policyReviews(events: readonly LedgerEvent[], now = Date.now()): PolicyStatus[] {
  return reviewsOf(platformFacts(events), now);
}

/**
 * The one rule of a fresh policy review, shared by the Dashboard's gaps and the warnings of the checklist and
 * the Record page: a snapshot retrieved at most REVIEW_DAYS before the moment `at` (a generation's time, or
 * now) and no later than a minute after it.
 */
export const freshWindow = (at: number): [number, number] => [at - REVIEW_DAYS * DAY_MS, at + 60_000];
export function isFresh(retrieved: string, at: number): boolean {
  const [lo, hi] = freshWindow(at);
  const t = ms(retrieved);
  return t >= lo && t <= hi;
}

export interface Gap {
  id: string;
  time: string;
  platform: string;
  project: string;
  classification: string;
  noChecklist: boolean;
  noFreshPolicy: boolean;
}

/**
 * Confidential or client generations recorded without a checklist, or without a policy snapshot of their
 * platform retrieved in the 90 days before the generation (cited by the generation or not).
 */
export function gaps(events: readonly LedgerEvent[]): Gap[] {
  const byId = new Map<string, LedgerEvent>();
  /** Snapshot times (ms) per platform, sorted: "a snapshot of this platform in the window" is a binary search. */
  const snapshotTimes = new Map<string, number[]>();
  for (const e of events) {
    const t = typeOf(e);
    if (t !== 'checklist' && t !== 'policy-snapshot') continue;
    byId.set(e.id, e);
    const p = t === 'policy-snapshot' ? platformOf(e) : undefined;
    if (p) {
      const list = snapshotTimes.get(p) ?? [];
      list.push(ms(snapshotTime(e)));
      snapshotTimes.set(p, list);
    }
  }
  for (const list of snapshotTimes.values()) list.sort((a, b) => a - b);
  const out: Gap[] = [];
  for (const e of events) {
    if (typeOf(e) !== 'generation') continue;
    const classification = classificationOf(e);
    if (classification !== 'confidential' && classification !== 'client') continue;
    const b = bodyOf(e);
    const time = timeOf(e);
    const checklistId = str(b.checklist);
    const checklist = checklistId ? byId.get(checklistId) : undefined;
    const noChecklist = !checklist || typeOf(checklist) !== 'checklist';
    const platform = platformOf(e) ?? '';
    const genMs = ms(time);
    const [lo, hi] = freshWindow(genMs);
    const cited = arr(b.policySnapshots).some((id) => {
      const s = typeof id === 'string' ? byId.get(id) : undefined;
      return !!s && typeOf(s) === 'policy-snapshot' && isFresh(snapshotTime(s), genMs);
    });
    const noFreshPolicy = !(cited || anyIn(snapshotTimes.get(platform), lo, hi));
    if (noChecklist || noFreshPolicy) {
      out.push({
        id: e.id,
        time,
        platform: platform || '—',
        project: projectOf(e) ?? '—',
        classification,
        noChecklist,
        noFreshPolicy
      });
    }
  }
  return out.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
}

/** Whether the sorted list holds a value in [lo, hi]. */
function anyIn(sorted: readonly number[] | undefined, lo: number, hi: number): boolean {
  if (!sorted?.length) return false;
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (sorted[m] < lo) a = m + 1;
    else b = m;
  }
  return a < sorted.length && sorted[a] <= hi;
}

export interface Counts {
  events: number;
  generations: number;
  files: number;
  snapshots: number;
  checklists: number;
  projects: number;
}

export function counts(events: readonly LedgerEvent[]): Counts {
  const c: Counts = { events: events.length, generations: 0, files: 0, snapshots: 0, checklists: 0, projects: 0 };
  const projects = new Set<string>();
  const files = new Set<string>();
  const addFiles = (v: unknown) => {
    if (!Array.isArray(v)) return;
    for (const f of v) {
      const h = typeof f === 'object' && f !== null ? (f as { sha256?: unknown }).sha256 : undefined;
      if (typeof h === 'string' && h.length > 0) files.add(h);
    }
  };
  for (const e of events) {
    const t = typeOf(e);
    if (t === 'generation') c.generations++;
    else if (t === 'policy-snapshot') c.snapshots++;
    else if (t === 'checklist') c.checklists++;
    const p = projectOf(e);
    if (p) projects.add(p);
    const b = bodyOf(e);
    addFiles(b.outputs);
    addFiles(b.inputs);
    addFiles(b.files);
  }
  c.projects = projects.size;
  c.files = files.size;
  return c;
}

/** The latest policy snapshots, newest first, optionally for one platform (compared case-insensitively). */
export function latestSnapshots(events: readonly LedgerEvent[], platform?: string): LedgerEvent[] {
  const p = platform?.trim().toLowerCase();
  return events
    .filter((e) => typeOf(e) === 'policy-snapshot' && (!p || (platformOf(e) ?? '').toLowerCase() === p))
    .sort((a, b) => (snapshotTime(a) < snapshotTime(b) ? 1 : -1));
}

/** For each kind, the newest snapshot of a platform: what to suggest as "the policies that applied". */
export function currentSnapshots(events: readonly LedgerEvent[], platform: string): LedgerEvent[] {
  const seen = new Set<string>();
  const out: LedgerEvent[] = [];
  for (const e of latestSnapshots(events, platform)) {
    const kind = str(bodyOf(e).kind) ?? 'other';
    if (seen.has(kind)) continue;
    seen.add(kind);
    out.push(e);
  }
  return out;
}

/** Checklists newest first, optionally for one project. */
export function checklistsFor(events: readonly LedgerEvent[], project?: string): LedgerEvent[] {
  const p = project?.trim().toLowerCase();
  return events
    .filter((e) => typeOf(e) === 'checklist' && (!p || (projectOf(e) ?? '').toLowerCase() === p))
    .sort((a, b) => (timeOf(a) < timeOf(b) ? 1 : -1));
}

/** Distinct values seen in the ledger (for datalists): platforms, projects. */
export function distinct(events: readonly LedgerEvent[], pick: (e: LedgerEvent) => string | undefined): string[] {
  const s = new Set<string>();
  for (const e of events) {
    const v = pick(e);
    if (v) s.add(v);
  }
  return [...s].sort((a, b) => a.localeCompare(b));
}

/* ---- warnings before signing (checklist, Record page) ---- */

export interface StaleSnapshot {
  id: string;
  platform: string;
  kind: string;
  retrievedAt: string;
  ageDays: number;
}

export interface RedFlags {
  id: string;
  platform: string;
  kind: string;
  /** The questions answered against the artist, e.g. {key: 'trainingOnInputs', answer: 'yes'}. */
  answers: { key: string; answer: string }[];
}

export interface PolicyWarnings {
  /** Snapshots picked as reviewed (or in force) that are not fresh now, oldest first. */
  stale: StaleSnapshot[];
  /**
   * A confidential or client project and no fresh snapshot of the platform: a generation recorded now would be
   * listed under Gaps on the Dashboard (the same rule, isFresh).
   */
  noFreshPolicy: boolean;
  /** For a confidential or client project: the platform's current snapshots with red flags. */
  redFlags: RedFlags[];
  /** The checklist chosen was done for another platform. */
  otherChecklist?: { id: string; platform: string };
  /** Picked snapshots of another platform. */
  otherSnapshots: { id: string; platform: string; kind: string }[];
}

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * What to warn about before signing a checklist or a generation (never blocking): stale snapshots, red flags
 * for a confidential or client project, and a checklist or snapshots of another platform. `redFlagOf(key,
 * answer)` tells a red answer (policy.ts flagOf), passed in so this module stays free of the questions list.
 */
export function policyWarnings(
  events: readonly LedgerEvent[],
  opts: { platform?: string; classification?: string; snapshots?: readonly string[]; checklist?: string; now?: number },
  redFlagOf: (key: string, answer: string) => boolean
): PolicyWarnings {
  const now = opts.now ?? Date.now();
  const platform = opts.platform?.trim() ?? '';
  const sensitive = opts.classification === 'confidential' || opts.classification === 'client';
  const byId = new Map<string, LedgerEvent>(events.map((e) => [e.id, e] as const));
  const picked = (opts.snapshots ?? [])
    .map((id) => byId.get(id))
    .filter((e): e is LedgerEvent => !!e && typeOf(e) === 'policy-snapshot');
  const kindOf = (e: LedgerEvent) => str(bodyOf(e).kind) ?? 'other';
  const stale = picked
    .filter((e) => !isFresh(snapshotTime(e), now))
    .map((e) => ({
      id: e.id,
      platform: platformOf(e) ?? '—',
      kind: kindOf(e),
      retrievedAt: snapshotTime(e),
      ageDays: Math.max(0, Math.floor((now - ms(snapshotTime(e))) / DAY_MS))
    }))
    .sort((a, b) => b.ageDays - a.ageDays);
  const noFreshPolicy =
    sensitive && platform !== '' && !latestSnapshots(events, platform).some((e) => isFresh(snapshotTime(e), now));
  const platforms = platform ? [platform] : [...new Set(picked.map((e) => platformOf(e) ?? '').filter(Boolean))];
  const redFlags: RedFlags[] = [];
  if (sensitive) {
    for (const p of platforms) {
      for (const e of currentSnapshots(events, p)) {
        const answers = obj(bodyOf(e).answers);
        const red = Object.entries(answers)
          .map(([key, v]) => ({ key, answer: str(obj(v).answer) ?? '' }))
          .filter((a) => redFlagOf(a.key, a.answer));
        if (red.length) redFlags.push({ id: e.id, platform: platformOf(e) ?? p, kind: kindOf(e), answers: red });
      }
    }
  }
  const c = opts.checklist ? byId.get(opts.checklist) : undefined;
  const cp = c ? platformOf(c) : undefined;
  const otherChecklist = c && cp && platform && !same(cp, platform) ? { id: c.id, platform: cp } : undefined;
  const otherSnapshots = platform
    ? picked
        .filter((e) => !same(platformOf(e) ?? '', platform))
        .map((e) => ({ id: e.id, platform: platformOf(e) ?? '—', kind: kindOf(e) }))
    : [];
  return { stale, noFreshPolicy, redFlags, ...(otherChecklist ? { otherChecklist } : {}), otherSnapshots };
}

/** Whether there is anything to warn about. */
export const anyWarning = (w: PolicyWarnings): boolean =>
  w.stale.length > 0 || w.noFreshPolicy || w.redFlags.length > 0 || !!w.otherChecklist || w.otherSnapshots.length > 0;

/** The snapshot of the same platform and kind retrieved before this one, if any (the newest such). */
export function previousSnapshot(events: readonly LedgerEvent[], snapshot: LedgerEvent): LedgerEvent | undefined {
  const id = str(bodyOf(snapshot).previous);
  const named = id ? events.find((e) => e.id === id && typeOf(e) === 'policy-snapshot') : undefined;
  if (named) return named;
  const kind = str(bodyOf(snapshot).kind);
  const t = snapshotTime(snapshot);
  const platform = platformOf(snapshot);
  if (!platform) return undefined;
  return latestSnapshots(events, platform).find(
    (e) => e.id !== snapshot.id && str(bodyOf(e).kind) === kind && snapshotTime(e) <= t
  );
}

/**
 * The generations on a platform recorded under the previous terms: from the previous snapshot's retrieval up to
 * `until` (the new snapshot's retrieval; now while drafting), newest first.
 */
export function generationsUnder(
  events: readonly LedgerEvent[],
  platform: string,
  from: string,
  until: string
): LedgerEvent[] {
  const lo = ms(from);
  const hi = ms(until);
  return events
    .filter((e) => typeOf(e) === 'generation' && same(platformOf(e) ?? '', platform))
    .filter((e) => {
      const t = ms(timeOf(e));
      return t >= lo && t < hi;
    })
    .sort((a, b) => (timeOf(a) < timeOf(b) ? 1 : -1));
}
