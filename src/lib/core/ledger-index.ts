/** The ledger's in-memory index (ledger.ts): events, heads, the file-hash index, and entries read as events. */
import type { DocStore } from './docstore.ts';
import { EVENT_ID_RE, isEventId, type EventId, type LedgerEvent } from './event.ts';
import { hashesIn } from './query.ts';
import type { LedgerCore } from './ledger-core.ts';
import { lazyEvent, parentsOf } from './stored-event.ts';
import { SIG_SUFFIX } from './journal/signatures.ts';

/**
 * Entries parsed as events, unchecked (for building their journal commits while they are checked). `values`, when
 * given, receives the string and JSON.parse value of each id's first entry (checkEntries' `parsed`).
 */
export function parseLoose(
  entries: Iterable<[string, string]>,
  values?: Map<string, { json: string; value: unknown }>
): Map<EventId, LedgerEvent> {
  const out = new Map<EventId, LedgerEvent>();
  for (const [id, json] of entries) {
    if (!isEventId(id)) continue;
    try {
      const env = JSON.parse(json);
      if (values && !values.has(id)) values.set(id, { json, value: env });
      if (
        env &&
        typeof env === 'object' &&
        env.event &&
        typeof env.event === 'object' &&
        Array.isArray(env.event.parents)
      ) {
        out.set(id as EventId, { id: id as EventId, event: env.event, sig: env.sig });
      }
    } catch {
      /* refused by checkEntries */
    }
  }
  return out;
}

export function indexEvent(core: LedgerCore, ev: LedgerEvent): void {
  core.events.set(ev.id, ev);
  core.sorted = null;
  for (const p of parentsOf(ev)) {
    core.referenced.add(p);
    core.heads.delete(p as EventId);
  }
  if (!core.referenced.has(ev.id)) core.heads.add(ev.id);
  if (core.byHash) indexHashes(core.byHash, ev);
}

function indexHashes(index: Map<string, Set<EventId>>, ev: LedgerEvent): void {
  for (const h of hashesIn(ev.event.body)) {
    let s = index.get(h);
    if (!s) index.set(h, (s = new Set()));
    s.add(ev.id);
  }
}

export function hashIndex(core: LedgerCore): Map<string, Set<EventId>> {
  if (!core.byHash) {
    const index = new Map<string, Set<EventId>>();
    for (const ev of core.events.values()) indexHashes(index, ev);
    core.byHash = index;
  }
  return core.byHash;
}

/**
 * The stored events and journal signatures (`<id>.git` entries, ledger-journal.ts), in one pass. Events are
 * read lazily (stored-event.ts); an envelope without the canonical frame is parsed whole, and one that is not
 * JSON is left out (verify() reports it).
 */
export function readStored(store: DocStore): { events: Map<EventId, LedgerEvent>; sigs: Map<string, string> } {
  const events = new Map<EventId, LedgerEvent>();
  const sigs = new Map<string, string>();
  let unread: Set<string> | undefined;
  // Every entry as stored; the first under a key counts, as DocStore.get() reads (even when it is left out).
  for (const [key, json] of store.scan().entries) {
    if (key.length === 64) {
      if (events.has(key as EventId) || unread?.has(key) || !EVENT_ID_RE.test(key)) continue;
      const ev = lazyEvent(key as EventId, json) ?? parseWhole(key as EventId, json);
      if (ev) events.set(key as EventId, ev);
      else (unread ??= new Set()).add(key);
    } else if (
      key.length === 64 + SIG_SUFFIX.length &&
      key.endsWith(SIG_SUFFIX) &&
      EVENT_ID_RE.test(key.slice(0, 64))
    ) {
      const id = key.slice(0, 64);
      if (!sigs.has(id)) sigs.set(id, json);
    }
  }
  return { events, sigs };
}

function parseWhole(id: EventId, json: string): LedgerEvent | undefined {
  try {
    const env = JSON.parse(json);
    if (
      env &&
      typeof env === 'object' &&
      env.event &&
      typeof env.event === 'object' &&
      Array.isArray(env.event.parents)
    )
      return { id, event: env.event, sig: env.sig };
  } catch {
    /* reported by verify() */
  }
  return undefined;
}
