/** record derivation: a local edit (retopology, texturing, rigging...) of earlier files. */
import type { DerivationBody } from '../../../lib/core/types.ts';
import { openSession, type GlobalOptions } from '../../context.ts';
import type { Output } from '../../output.ts';
import { appendWithSideData, compact, eventsProducing, hashFiles, printRecorded, resolveEvents } from './common.ts';

export interface DerivationOptions extends GlobalOptions {
  from: string[];
  output: string[];
  tool: string;
  toolVersion?: string;
  operation: string;
  source?: string[];
  notes?: string;
}

export async function recordDerivation(opts: DerivationOptions, out: Output): Promise<void> {
  const s = await openSession(opts, { write: true });
  const parents = await hashFiles(opts.from, out);
  const outputs = await hashFiles(opts.output, out);
  let sources = resolveEvents(s.ledger, opts.source);
  if (!opts.source?.length) {
    sources = eventsProducing(
      s.ledger,
      parents.map((f) => f.sha256)
    );
    if (sources.length) out.note(`sources found by hash: ${sources.map((id) => id.slice(0, 12)).join(', ')}`);
    else out.note('none of the --from files is recorded in this ledger yet');
  }
  const body = compact({
    parents,
    outputs,
    tool: compact({ name: opts.tool, version: opts.toolVersion }),
    operation: opts.operation,
    sources: sources.length ? sources : undefined,
    notes: opts.notes
  }) as unknown as DerivationBody;
  printRecorded(await appendWithSideData(s, 'derivation', body), s.ledger, out);
}
