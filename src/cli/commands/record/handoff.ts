/** record handoff: deliverables handed to a client. */
import type { HandoffBody } from '../../../lib/core/types.ts';
import { openSession, type GlobalOptions } from '../../context.ts';
import type { Output } from '../../output.ts';
import { appendWithSideData, compact, eventsProducing, hashFiles, printRecorded, resolveEvents } from './common.ts';

export interface HandoffOptions extends GlobalOptions {
  file: string[];
  recipient: string;
  organization?: string;
  contact?: string;
  derivedFrom?: string[];
  channel?: string;
  terms?: string;
  project?: string;
  notes?: string;
}

export async function recordHandoff(opts: HandoffOptions, out: Output): Promise<void> {
  const s = await openSession(opts, { write: true });
  const files = await hashFiles(opts.file, out);
  let derivedFrom = resolveEvents(s.ledger, opts.derivedFrom);
  if (!opts.derivedFrom?.length) {
    derivedFrom = eventsProducing(
      s.ledger,
      files.map((f) => f.sha256)
    );
    if (derivedFrom.length)
      out.note(`derived from (found by hash): ${derivedFrom.map((id) => id.slice(0, 12)).join(', ')}`);
  }
  const body = compact({
    files,
    recipient: compact({ name: opts.recipient, organization: opts.organization, contact: opts.contact }),
    derivedFrom: derivedFrom.length ? derivedFrom : undefined,
    channel: opts.channel,
    terms: opts.terms,
    project: opts.project,
    notes: opts.notes
  }) as unknown as HandoffBody;
  printRecorded(await appendWithSideData(s, 'handoff', body), s.ledger, out);
}
