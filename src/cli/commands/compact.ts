/** compact: rewrite the stored document as one snapshot. */
import { openSession, type GlobalOptions } from '../context.ts';
import type { Output } from '../output.ts';

export async function compactLedger(opts: GlobalOptions, out: Output): Promise<void> {
  const { ledger, storage } = await openSession(opts);
  const before = (await storage.listKeys(['doc'])).length;
  await ledger.compact();
  const after = (await storage.listKeys(['doc'])).length;
  out.result({ events: ledger.size, chunksBefore: before, chunksAfter: after }, (say) => {
    say(
      `compacted ledger "${ledger.name}": ${before} stored chunk${before === 1 ? '' : 's'} → ${after}, ${ledger.size} events`
    );
  });
}
