/** show: one event in full. */
import { readLedger, resolveEvent, type GlobalOptions } from '../context.ts';
import { eventJson, renderValue, shortTime } from '../format.ts';
import type { Output } from '../output.ts';

export async function show(ref: string, opts: GlobalOptions, out: Output): Promise<void> {
  const ledger = await readLedger(opts);
  const ev = resolveEvent(ledger, ref);
  const author = ledger.member(ev.event.author);
  out.result({ event: { ...eventJson(ev, ledger), sig: ev.sig } }, (say) => {
    say(`${ev.event.type} ${ev.id}`);
    say(`  time     ${shortTime(ev.event.time)} UTC`);
    say(`  author   ${author ? `${author.name} (${author.role})` : 'unknown'} ${ev.event.author}`);
    say(`  parents  ${ev.event.parents.length ? ev.event.parents.join('\n           ') : '(none: genesis)'}`);
    for (const l of renderValue(ev.event.body, '  ')) say(l);
    if (ev.event.type === 'generation' && (ev.event.body as { prompt?: unknown }).prompt) {
      say(`The prompt is a commitment; reveal it with: provenance-ledger reveal ${ev.id.slice(0, 12)}`);
    }
  });
}
