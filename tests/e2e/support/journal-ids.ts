/**
 * The journal commit id of every event in a ledger export (src/lib/engine/transfer.ts format), computed by the
 * core as the CLI computes them (JournalCommits over the events and their `<id>.git` signatures, no hints).
 * Prints {"<event id>": "<commit id>", …}.
 *
 *   node tests/e2e/support/journal-ids.ts <export.jsonl>
 */
import { readFileSync } from 'node:fs';
import { JournalCommits } from '../../../src/lib/core/journal/signatures.ts';
import type { EventId, LedgerEvent } from '../../../src/lib/core/event.ts';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
const events = new Map<string, LedgerEvent>();
const sigs = new Map<string, string>();
const json = new Map<string, string>();
for (const line of lines.slice(1)) {
  const [key, value] = JSON.parse(line) as [string, string];
  if (key.endsWith('.git')) sigs.set(key.slice(0, 64), value);
  else {
    json.set(key, value);
    const env = JSON.parse(value);
    events.set(key, { id: key as EventId, event: env.event, sig: env.sig });
  }
}
await JournalCommits.ready();
const journal = new JournalCommits(
  { event: (id) => events.get(id), signature: (id) => sigs.get(id), envelope: (id) => json.get(id) },
  { hints: false }
);
const out: Record<string, string | null> = {};
for (const id of events.keys()) out[id] = journal.oid(id) ?? null;
process.stdout.write(JSON.stringify(out) + '\n');
