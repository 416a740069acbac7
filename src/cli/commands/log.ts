/** log: the ledger's events, oldest first, optionally filtered. */
import { readLedger, type GlobalOptions } from '../context.ts';
import { eventJson, logLine } from '../format.ts';
import type { Output } from '../output.ts';

export interface LogOptions extends GlobalOptions {
  type?: string;
  project?: string;
  platform?: string;
}

export async function log(opts: LogOptions, out: Output): Promise<void> {
  const ledger = await readLedger(opts);
  const events = ledger.query({
    types: opts.type ? [opts.type] : undefined,
    project: opts.project,
    platform: opts.platform
  });
  // The JSON document only when it is printed (for 10k events it is as many objects).
  out.result(
    out.json
      ? {
          ledger: { id: ledger.id, name: ledger.name },
          count: events.length,
          events: events.map((e) => eventJson(e, ledger))
        }
      : {},
    (say) => {
      if (events.length === 0) say(`no events match in ledger "${ledger.name}"`);
      for (const e of events) say(logLine(e, ledger));
    }
  );
}
