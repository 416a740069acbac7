/**
 * What a peer's Automerge changes contain. Automerge authenticates nobody, so a change from a peer is only
 * ever applied to the real document when it does exactly what a device's own appends do: put, at the root,
 * one immutable string (an envelope's canonical JSON) under a fresh key that is an event id, or an event's
 * journal commit signature under `<event id>.git` (Ledger checks it over the event's commit). Anything else
 * (deletes, overwrites, nested objects, text, counters, other keys) marks the change CHANGE_NOT_EVENT.
 * Changes are attacker-controlled bytes: decoding is defensive, nothing here throws.
 */
import * as A from '@automerge/automerge/slim';
import { isEventId } from '../event.ts';
import { SyncCode } from './codes.ts';
import { decodeSig, isSigKey } from '../journal/signatures.ts';

export interface DecodedChange {
  hash: string;
  deps: string[];
  bytes: Uint8Array;
  /** The events it puts: [event id, envelope JSON]. */
  entries: Array<[string, string]>;
  problem?: { code: SyncCode; message: string };
}

export function decodeChanges(changes: Uint8Array[]): DecodedChange[] {
  return changes.map(decodeOne);
}

function decodeOne(bytes: Uint8Array): DecodedChange {
  let c: A.DecodedChange;
  try {
    c = A.decodeChange(bytes);
  } catch (e) {
    return { hash: '', deps: [], bytes, entries: [], problem: { code: SyncCode.SYNC_MALFORMED, message: `not an Automerge change: ${(e as Error).message}` } };
  }
  const base = { hash: String(c.hash), deps: (c.deps ?? []).map(String), bytes, entries: [] as Array<[string, string]> };
  const bad = (message: string): DecodedChange => ({ ...base, entries: [], problem: { code: SyncCode.CHANGE_NOT_EVENT, message } });
  if (!Array.isArray(c.ops) || c.ops.length === 0) return bad('a change with no event in it');
  const seen = new Set<string>();
  for (const op of c.ops as Array<Record<string, unknown>>) {
    if (op.action !== 'set') return bad(`an operation "${String(op.action)}": only puts of events are accepted`);
    if (op.obj !== '_root') return bad('an operation inside a nested object');
    if (op.insert || op.elemId !== undefined) return bad('a list insertion');
    if (op.datatype !== undefined && op.datatype !== 'str') return bad(`a value of type ${String(op.datatype)}`);
    if (typeof op.value !== 'string') return bad('a value that is not an immutable string');
    if (!isEventId(op.key) && !isSigKey(op.key)) return bad(`a key that is not an event id: ${JSON.stringify(String(op.key).slice(0, 80))}`);
    if (isSigKey(op.key) && !decodeSig(op.value)) return bad(`a journal signature ${op.key} that is not 64 bytes in base64url`);
    if (!Array.isArray(op.pred) || op.pred.length > 0) return bad(`an overwrite of ${op.key}`);
    if (seen.has(op.key)) return bad(`two puts of ${op.key}`);
    seen.add(op.key);
    base.entries.push([op.key, op.value]);
  }
  return base;
}
