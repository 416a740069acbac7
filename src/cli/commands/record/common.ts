/** What every `record` command shares: appending with local side data, and finding related events. */
import type { StorageKey } from '../../../lib/core/storage.ts';
import type { LedgerEvent } from '../../../lib/core/event.ts';
import type { Ledger } from '../../../lib/core/ledger.ts';
import type { EventType, FileRef } from '../../../lib/core/types.ts';
import { fileRefs, nonUtf8Note } from '../../../lib/adapters/node/files.ts';
import { eventJson, logLine, renderValue } from '../../format.ts';
import { resolveEvent, type Session } from '../../context.ts';
import type { Output } from '../../output.ts';

/** Data kept on this device beside the event (a prompt opening, a policy text), written before the append. */
export interface SideWrite {
  key: StorageKey;
  write: () => Promise<void>;
}

/**
 * Writes the side data, then appends the event. If the append fails (invalid body, no permission), the side
 * data this call wrote is removed again: a refused command leaves the ledger directory as it found it.
 */
export async function appendWithSideData(
  s: Session,
  type: EventType,
  body: unknown,
  side: SideWrite[] = []
): Promise<LedgerEvent> {
  const written: StorageKey[] = [];
  try {
    for (const w of side) {
      if (await s.storage.load(w.key)) continue;
      await w.write();
      written.push(w.key);
    }
    return await s.ledger.append(type, body);
  } catch (e) {
    for (const k of written.reverse()) await s.storage.remove(k).catch(() => {});
    throw e;
  }
}

/** Prints what was recorded. */
export function printRecorded(ev: LedgerEvent, ledger: Ledger, out: Output): void {
  out.result({ event: eventJson(ev, ledger) }, (say) => {
    say(`Recorded ${ev.event.type} ${ev.id}`);
    say(`  ${logLine(ev, ledger)}`);
    for (const l of renderValue(ev.event.body, '  ')) say(l);
  });
}

/** Hashes the files named on the command line, with a progress bar for big ones. */
export function hashFiles(files: string[], out: Output, role?: string): Promise<FileRef[]> {
  for (const f of files) {
    const note = nonUtf8Note(f);
    if (note) out.note(note);
  }
  return fileRefs(files, { role, onProgress: out.progress });
}

/** The latest policy snapshot of each kind for a platform (exact name), oldest kind first. */
export function latestSnapshots(ledger: Ledger, platform: string): LedgerEvent[] {
  const latest = new Map<string, LedgerEvent>();
  for (const ev of ledger.query({ types: ['policy-snapshot'] })) {
    const b = ev.event.body as { platform: { name: string }; kind: string; retrievedAt: string };
    if (b.platform.name !== platform) continue;
    const cur = latest.get(b.kind);
    if (!cur || (cur.event.body as { retrievedAt: string }).retrievedAt <= b.retrievedAt) latest.set(b.kind, ev);
  }
  return [...latest.values()];
}

/**
 * Policy snapshots for a generation or checklist: the ones given with --policy, else the latest of each kind
 * recorded for the platform (and a note saying so).
 */
export function policySnapshots(
  ledger: Ledger,
  given: string[] | undefined,
  platform: string | undefined,
  out: Output
): string[] {
  if (given?.length) return [...new Set(given.map((ref) => resolveEvent(ledger, ref, 'policy-snapshot').id))];
  if (!platform) return [];
  const latest = latestSnapshots(ledger, platform);
  if (latest.length) {
    out.note(
      `no --policy given: using the latest policy snapshot${latest.length > 1 ? 's' : ''} for ${platform}: ` +
        latest.map((e) => `${(e.event.body as { kind: string }).kind} ${e.id.slice(0, 12)}`).join(', ')
    );
  } else {
    out.note(`no policy snapshot recorded for ${platform}: record one with provenance-ledger record policy`);
  }
  return latest.map((e) => e.id);
}

/** Events that recorded files with these hashes as made or stored (generation and derivation outputs, exports). */
export function eventsProducing(ledger: Ledger, hashes: string[]): string[] {
  const wanted = new Set(hashes);
  const ids: string[] = [];
  for (const ev of ledger.events()) {
    const b = ev.event.body as { outputs?: FileRef[]; files?: FileRef[] };
    const made =
      ev.event.type === 'export'
        ? b.files
        : ev.event.type === 'generation' || ev.event.type === 'derivation'
          ? b.outputs
          : undefined;
    if (made?.some((f) => wanted.has(f.sha256))) ids.push(ev.id);
  }
  return ids;
}

/** Resolves a list of event references (ids or prefixes), without duplicates. */
export function resolveEvents(ledger: Ledger, refs: string[] | undefined, type?: EventType): string[] {
  return [...new Set((refs ?? []).map((r) => resolveEvent(ledger, r, type).id))];
}

/** Drops the keys whose value is undefined, so optional fields are absent rather than empty. */
export function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
