/**
 * Data-quality checks made before signing (they warn, they never block): a .gltf chosen without the .bin and
 * textures it names, a file already in the ledger, and a deletion of files the platform never held. Pure
 * functions over the chosen files and the event list; event bodies are read defensively (peers write them too).
 */
import type { LedgerEvent } from '#lib/core/event.ts';
import { externalUris, uriBaseName } from './viewer/model-files.ts';
import { bodyOf, platformOf, typeOf } from '../core/insights.ts';

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The files a .gltf's JSON names (buffers[].uri, images[].uri; data: URIs are embedded, not files) that are not
 * among `chosen` (file names, matched by base name as the viewer matches them). Text that is not a glTF JSON
 * names nothing; `unreadable` says so.
 */
export function gltfMissing(text: string, chosen: readonly string[]): { missing: string[]; unreadable: boolean } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { missing: [], unreadable: true };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { missing: [], unreadable: true };
  const have = new Set(chosen);
  const missing: string[] = [];
  for (const uri of externalUris(json)) {
    const name = uriBaseName(uri);
    if (!have.has(name) && !missing.includes(name)) missing.push(name);
  }
  return { missing, unreadable: false };
}

/** The body fields that name files, with what each file is in its event. */
const FILE_FIELDS: [string, string][] = [
  ['outputs', 'output'],
  ['inputs', 'input'],
  ['files', 'file'],
  ['parents', 'source']
];

export interface Mention {
  event: LedgerEvent;
  /** output, input, file, source */
  as: string;
  /** The name the event gives the file, if any. */
  name?: string;
}

/** Every event that names the file with this SHA-256 (as an output, input, exported or delivered file, parent). */
export function mentionsOf(events: readonly LedgerEvent[], sha256: string): Mention[] {
  const out: Mention[] = [];
  for (const e of events) {
    const b = bodyOf(e);
    for (const [field, as] of FILE_FIELDS) {
      const hit = arr(b[field]).find((f) => (typeof f === 'string' ? f : obj(f).sha256) === sha256);
      if (hit !== undefined) {
        const name = obj(hit).name;
        out.push({ event: e, as, ...(typeof name === 'string' && name ? { name } : {}) });
        break;
      }
    }
  }
  return out;
}

/** Files (by name and hash) that some event of the ledger already records, with the first event naming each. */
export function alreadyRecorded(
  events: readonly LedgerEvent[],
  files: readonly { name: string; sha256: string }[]
): { name: string; sha256: string; first: Mention; count: number }[] {
  const out: { name: string; sha256: string; first: Mention; count: number }[] = [];
  for (const f of files) {
    const m = mentionsOf(events, f.sha256);
    if (m.length) out.push({ ...f, first: m[0], count: m.length });
  }
  return out;
}

/**
 * Of the files to be recorded as deleted from `platform`, those that never were on it: no generation on that
 * platform (names compared without case) has the file among its outputs or inputs.
 */
export function neverOnPlatform<T extends { sha256: string }>(
  events: readonly LedgerEvent[],
  platform: string,
  files: readonly T[]
): T[] {
  const p = platform.trim().toLowerCase();
  if (!p) return [];
  const held = new Set<string>();
  for (const e of events) {
    if (typeOf(e) !== 'generation' || (platformOf(e) ?? '').trim().toLowerCase() !== p) continue;
    const b = bodyOf(e);
    for (const f of [...arr(b.outputs), ...arr(b.inputs)]) {
      const h = obj(f).sha256;
      if (typeof h === 'string') held.add(h);
    }
  }
  return files.filter((f) => !held.has(f.sha256));
}
