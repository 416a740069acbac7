/** record export: files downloaded from a platform and stored somewhere (a label, never a path). */
import type { ExportBody, FileRef } from '../../../lib/core/types.ts';
import { openSession, resolveEvent, type GlobalOptions } from '../../context.ts';
import type { Output } from '../../output.ts';
import { appendWithSideData, compact, eventsProducing, hashFiles, printRecorded } from './common.ts';

export interface ExportOptions extends GlobalOptions {
  file: string[];
  destination: string;
  destinationKind: string;
  encrypted?: boolean;
  generation?: string;
  notes?: string;
}

export async function recordExport(opts: ExportOptions, out: Output): Promise<void> {
  const s = await openSession(opts, { write: true });
  const files = await hashFiles(opts.file, out);
  let generation: string | undefined = opts.generation
    ? resolveEvent(s.ledger, opts.generation, 'generation').id
    : undefined;
  if (!generation) {
    // The generation whose outputs these are, when exactly one generation made them.
    const made = eventsProducing(
      s.ledger,
      files.map((f) => f.sha256)
    ).filter((id) => s.ledger.get(id)?.event.type === 'generation');
    if (made.length === 1) {
      generation = made[0];
      out.note(`these files are outputs of generation ${generation.slice(0, 12)}: linked to it`);
    }
  } else {
    const outputs = new Set(
      (s.ledger.get(generation)!.event.body as { outputs: FileRef[] }).outputs.map((f) => f.sha256)
    );
    const foreign = files.filter((f) => !outputs.has(f.sha256));
    if (foreign.length)
      out.warn(`not outputs of generation ${generation.slice(0, 12)}: ${foreign.map((f) => f.name).join(', ')}`);
  }
  const body = compact({
    generation,
    files,
    destination: { label: opts.destination, kind: opts.destinationKind, encrypted: !!opts.encrypted },
    notes: opts.notes
  }) as unknown as ExportBody;
  printRecorded(await appendWithSideData(s, 'export', body), s.ledger, out);
}
