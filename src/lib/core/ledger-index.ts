/** The ledger's in-memory index (ledger.ts): events, heads, the file-hash index, and entries read as events. */
import type { DocStore } from './docstore.ts';
import { isEventId, type EventId, type LedgerEvent } from './event.ts';
import { hashesIn } from './query.ts';
import type { LedgerCore } from './ledger-core.ts';

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
  for (const p of ev.event.parents) {
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

export function readEntries(store: DocStore): Map<EventId, LedgerEvent> {
  const all = new Map<EventId, LedgerEvent>();
  for (const [id, json] of store.entries()) {
    if (!isEventId(id)) continue; // `<id>.git` entries are journal signatures (readSigs, ledger-journal.ts)
    try {
      const env = JSON.parse(json);
      all.set(id as EventId, { id: id as EventId, event: env.event, sig: env.sig });
    } catch {
      /* reported by verify() */
    }
  }
  return all;
}
