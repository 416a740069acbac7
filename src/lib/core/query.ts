/** Queries over the ledger's events: filters, and the chain of custody of a file. */
import type { EventId, LedgerEvent } from './event.ts';

export interface EventFilter {
  types?: string[];
  /** Case-insensitive text anywhere in the event body (names, projects, platforms, notes...). */
  text?: string;
  platform?: string;
  project?: string;
  classification?: string;
  author?: string;
  /** Inclusive RFC 3339 bounds on the event time. */
  from?: string;
  to?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const searchText = new WeakMap<LedgerEvent, string>();

function textOf(ev: LedgerEvent): string {
  let s = searchText.get(ev);
  if (s === undefined) {
    s = JSON.stringify(ev.event.body).toLowerCase();
    searchText.set(ev, s);
  }
  return s;
}

/** The body fields a filter reads; each is absent from the bodies of some event types. */
interface FilteredFields {
  platform?: { name?: unknown };
  project?: unknown;
  classification?: unknown;
}
const filteredFields = (ev: LedgerEvent): FilteredFields => ev.event.body as FilteredFields;

export function matches(ev: LedgerEvent, f: EventFilter): boolean {
  const b = filteredFields(ev);
  if (f.types?.length && !f.types.includes(ev.event.type)) return false;
  if (f.author && ev.event.author !== f.author) return false;
  if (f.from && ev.event.time < f.from) return false;
  if (f.to && ev.event.time > f.to) return false;
  if (f.platform && String(b.platform?.name ?? '').toLowerCase() !== f.platform.toLowerCase()) return false;
  if (f.project && String(b.project ?? '').toLowerCase() !== f.project.toLowerCase()) return false;
  if (f.classification && b.classification !== f.classification) return false;
  if (f.text && !textOf(ev).includes(f.text.toLowerCase())) return false;
  return true;
}

/** Every 64-hex string inside a value: file hashes and event ids an event names. */
export function hashesIn(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    if (value.length === 64 && HEX64.test(value)) out.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) hashesIn(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) hashesIn(v, out);
  }
  return out;
}

/** The FileRefs ({name, sha256, ...}) anywhere in an event's body. */
export function fileRefs(ev: LedgerEvent): Array<{ name: string; sha256: string }> {
  const out: Array<{ name: string; sha256: string }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.sha256 === 'string' && typeof o.name === 'string') out.push({ name: o.name, sha256: o.sha256 });
      Object.values(o).forEach(walk);
    }
  };
  walk(ev.event.body);
  return out;
}

/** File hashes an event names as inputs, outputs, parents or deliverables (the FileRefs in its body). */
export function fileHashes(ev: LedgerEvent): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.sha256 === 'string' && typeof o.name === 'string') out.push(o.sha256);
      for (const x of Object.values(o)) if (typeof x === 'object') walk(x);
    }
  };
  walk(ev.event.body);
  const e = ev.event;
  if (e.type === 'deletion' && Array.isArray(e.body.target?.files)) out.push(...e.body.target.files);
  return out;
}

/**
 * The chain of custody of a file: every event that names its hash, followed backwards through derivations
 * (the files it was made from) and forwards to what was made or delivered from it, plus the events that name
 * those generations (exports, deletions) and the checklist and policy snapshots they cite.
 */
export function traceFile(
  sha256: string,
  byHash: Map<string, Set<EventId>>,
  get: (id: EventId) => LedgerEvent | undefined
): LedgerEvent[] {
  const seenHashes = new Set<string>();
  const found = new Map<EventId, LedgerEvent>();
  const queue = [sha256];
  while (queue.length) {
    const h = queue.pop()!;
    if (seenHashes.has(h)) continue;
    seenHashes.add(h);
    for (const id of byHash.get(h) ?? []) {
      const ev = get(id);
      if (!ev || found.has(id)) continue;
      found.set(id, ev);
      if (ev.event.type === 'derivation' || ev.event.type === 'handoff' || ev.event.type === 'generation') {
        for (const f of fileHashes(ev)) queue.push(f);
      }
      if (ev.event.type === 'generation') queue.push(id);
    }
  }
  // Context the generations cite: their checklist and policy snapshots.
  for (const ev of [...found.values()]) {
    const e = ev.event;
    if (e.type !== 'generation') continue;
    const b = e.body;
    for (const id of [b.checklist, ...(b.policySnapshots ?? [])]) {
      const c = typeof id === 'string' ? get(id as EventId) : undefined;
      if (c) found.set(c.id, c);
    }
  }
  return [...found.values()].sort((a, b) =>
    a.event.time < b.event.time ? -1 : a.event.time > b.event.time ? 1 : a.id < b.id ? -1 : 1
  );
}
