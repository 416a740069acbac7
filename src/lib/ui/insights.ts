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
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
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
    // Fresh: retrieved no later than a minute after the generation and at most 90 days before it.
    const lo = genMs - REVIEW_DAYS * DAY_MS;
    const hi = genMs + 60_000;
    const fresh = (t: number) => t <= hi && t >= lo;
    const cited = arr(b.policySnapshots).some((id) => {
      const s = typeof id === 'string' ? byId.get(id) : undefined;
      return !!s && typeOf(s) === 'policy-snapshot' && fresh(ms(snapshotTime(s)));
    });
    const noFreshPolicy = !(cited || anyIn(snapshotTimes.get(platform), lo, hi));
    if (noChecklist || noFreshPolicy) {
      out.push({ id: e.id, time, platform: platform || '—', project: projectOf(e) ?? '—', classification, noChecklist, noFreshPolicy });
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
