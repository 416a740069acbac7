/**
 * What a peer's Automerge changes contain. Automerge authenticates nobody, so a change from a peer is only
 * ever applied to the real document when it does exactly what a device's own appends do: insert into the
 * ledger's `records` list (object `1@<ledger id>`, docstore.ts) immutable strings that are records of entries:
 * events under their id (envelope canonical JSON) and journal commit signatures under `<event id>.git` (Ledger
 * checks each over the event's commit). The one other change accepted is the ledger's layout change, which
 * creates that list and is the same bytes on every device. Anything else (deletes, overwrites, other objects,
 * root keys, text, counters, nested objects) marks the change CHANGE_NOT_EVENT.
 * Changes are attacker-controlled bytes: decoding is defensive, nothing here throws.
 */
import * as A from '@automerge/automerge/slim';
import { isEventId } from '../event.ts';
import { SyncCode } from './codes.ts';
import { decodeSig, isSigKey } from '../journal/signatures.ts';
import { decodeRecord, layoutChange, recordsObjectId } from '../docstore.ts';

export interface DecodedChange {
  hash: string;
  deps: string[];
  bytes: Uint8Array;
  /** The entries it inserts: [event id, envelope JSON] and [`<event id>.git`, signature]. */
  entries: Array<[string, string]>;
  problem?: { code: SyncCode; message: string };
}

/** Decodes changes meant for the ledger `ledgerId`. */
export function decodeChanges(changes: Uint8Array[], ledgerId: string): DecodedChange[] {
  const records = recordsObjectId(ledgerId);
  const layout = layoutChange(ledgerId).hash;
  return changes.map((bytes) => decodeOne(bytes, records, layout));
}

function decodeOne(bytes: Uint8Array, records: string, layout: string): DecodedChange {
  let c: A.DecodedChange;
  try {
    c = A.decodeChange(bytes);
  } catch (e) {
    return {
      hash: '',
      deps: [],
      bytes,
      entries: [],
      problem: { code: SyncCode.SYNC_MALFORMED, message: `not an Automerge change: ${(e as Error).message}` }
    };
  }
  const base = {
    hash: String(c.hash),
    deps: (c.deps ?? []).map(String),
    bytes,
    entries: [] as Array<[string, string]>
  };
  // The layout change is identified by its hash (a SHA-256 of its bytes): nothing else can claim it.
  if (base.hash === layout) return base;
  const bad = (message: string): DecodedChange => ({
    ...base,
    entries: [],
    problem: { code: SyncCode.CHANGE_NOT_EVENT, message }
  });
  if (!Array.isArray(c.ops) || c.ops.length === 0) return bad('a change with no event in it');
  const seen = new Set<string>();
  for (const op of c.ops as Array<Record<string, unknown>>) {
    if (op.action !== 'set') return bad(`an operation "${String(op.action)}": only inserts of events are accepted`);
    if (op.obj !== records)
      return bad(
        op.obj === '_root'
          ? `a root key ${JSON.stringify(String(op.key ?? '').slice(0, 80))}`
          : "an operation outside the ledger's records list"
      );
    if (op.insert !== true) return bad('an overwrite of a record');
    if (op.datatype !== undefined && op.datatype !== 'str') return bad(`a value of type ${String(op.datatype)}`);
    if (typeof op.value !== 'string') return bad('a value that is not an immutable string');
    if (!Array.isArray(op.pred) || op.pred.length > 0) return bad('an overwrite of a record');
    const record = decodeRecord(op.value);
    if (record.problem) return bad(record.problem);
    for (const [key, value] of record.entries) {
      if (!isEventId(key) && !isSigKey(key))
        return bad(`a key that is not an event id: ${JSON.stringify(String(key).slice(0, 80))}`);
      if (isSigKey(key) && !decodeSig(value))
        return bad(`a journal signature ${key} that is not 64 bytes in base64url`);
      if (seen.has(key)) return bad(`two entries for ${key}`);
      seen.add(key);
      base.entries.push([key, value]);
    }
  }
  return base;
}
