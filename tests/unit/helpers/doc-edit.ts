/**
 * Edits of a ledger document's records inside an A.change callback, as a forger with write access to the
 * stored document (or a hostile peer) would make them. The layout is docstore.ts's: a `records` list of
 * immutable strings, each `<key> <value>` lines.
 */
import * as A from '@automerge/automerge';

type Draft = { records: A.ImmutableString[] } & Record<string, unknown>;

const find = (d: Draft, key: string): { i: number; lines: string[]; at: number } | undefined => {
  for (let i = 0; i < d.records.length; i++) {
    const lines = d.records[i].val.split('\n');
    const at = lines.findIndex((l) => l.startsWith(key + ' '));
    if (at >= 0) return { i, lines, at };
  }
  return undefined;
};

/** The stored value of a key. */
export function entryOf(doc: unknown, key: string): string | undefined {
  const f = find(doc as Draft, key);
  return f && f.lines[f.at].slice(key.length + 1);
}

/** Overwrites the value of a key where it is stored, or appends a record holding it. */
export function setEntry(d: unknown, key: string, value: string): void {
  const draft = d as Draft;
  const f = find(draft, key);
  if (!f) {
    draft.records.push(new A.ImmutableString(`${key} ${value}`));
    return;
  }
  f.lines[f.at] = `${key} ${value}`;
  draft.records[f.i] = new A.ImmutableString(f.lines.join('\n'));
}

/** Removes a key from its record (the record with it when it held nothing else). */
export function deleteEntry(d: unknown, key: string): void {
  const draft = d as Draft;
  const f = find(draft, key);
  if (!f) return;
  f.lines.splice(f.at, 1);
  if (f.lines.length === 0) (draft.records as unknown as { deleteAt(i: number): void }).deleteAt(f.i);
  else draft.records[f.i] = new A.ImmutableString(f.lines.join('\n'));
}

/** Appends one record holding these entries (what a device's append does). */
export function pushRecord(d: unknown, entries: Array<[string, string]>): void {
  (d as Draft).records.push(new A.ImmutableString(entries.map(([k, v]) => `${k} ${v}`).join('\n')));
}
