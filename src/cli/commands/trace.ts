/** trace: the chain of custody of a file, found by its hash. A file the ledger does not know is not an error. */
import path from 'node:path';
import { hashFile } from '../../lib/adapters/node/files.ts';
import { readLedger, type GlobalOptions } from '../context.ts';
import { eventJson, formatSize, logLine, mentionsOf } from '../format.ts';
import type { Output } from '../output.ts';

export async function trace(file: string, opts: GlobalOptions, out: Output): Promise<void> {
  const ledger = await readLedger(opts);
  const { sha256, size } = await hashFile(file, out.progress);
  const events = ledger.trace(sha256);
  const found = events.length > 0;
  out.result(
    {
      file: { path: path.resolve(file), name: path.basename(file), size, sha256 },
      found,
      events: events.map((e) => ({ ...eventJson(e, ledger), mentions: mentionsOf(e.event.body, sha256) }))
    },
    (say) => {
      say(`${path.basename(file)}  ${formatSize(size)}  sha256:${sha256}`);
      if (!found) {
        say(`not in this ledger: no event names this file's hash (ledger "${ledger.name}")`);
        return;
      }
      say(`chain of custody (${events.length} event${events.length === 1 ? '' : 's'}, oldest first):`);
      for (const e of events) {
        const at = mentionsOf(e.event.body, sha256);
        say(`  ${logLine(e, ledger)}${at.length ? `   ← this file: ${at.join(', ')}` : ''}`);
      }
    }
  );
}
