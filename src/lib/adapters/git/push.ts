/** Push: pull first, then main (fast-forward only) and the concurrent refs; never forced. */
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import type { GitJournal } from './journal.ts';
import { sendPack, type RefUpdate } from './send-pack.ts';
import { pull } from './fetch.ts';
import { setTracking } from './quarantine.ts';
import { remoteName } from './remote-auth.ts';

export interface PushResult {
  main?: string;
  concurrent: string[];
  /** Events pulled first. */
  received: number;
  pushed: boolean;
  /** Commits new to the remote: those it did not hold before this push (0 when it was up to date). */
  sent: number;
}

/** Pulls, then pushes main (fast-forward only) and the concurrent refs; retries when the remote moved. */
export async function push(journal: GitJournal, url: string, attempts = 3): Promise<PushResult> {
  const name = await remoteName(url);
  let received = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await journal.catchUp();
    const pulled = await pull(journal, url);
    received += pulled.received;
    const refs = await journal.updateRefs(pulled.remote.get('main'));
    const wanted = new Map<string, string>();
    if (refs.main) wanted.set('main', refs.main);
    for (const id of refs.concurrent) wanted.set(`concurrent/${id}`, journal.commitOf(id)!);
    // One receive-pack exchange (send-pack.ts): main first, then the concurrent refs, stale ones deleted.
    const updates: RefUpdate[] = [...wanted].map(([r, oid]) => ({ ref: `refs/heads/${r}`, oid }));
    for (const r of pulled.remote.keys())
      if (!wanted.has(r) && r.startsWith('concurrent/')) updates.push({ ref: `refs/heads/${r}` });
    const expected = new Map([...pulled.remote].map(([r, oid]) => [`refs/heads/${r}`, oid]));
    let refused: string[];
    let sent = 0;
    try {
      ({ refused, sent } = await sendPack(journal, url, expected, updates));
    } catch (e) {
      // A connection reset mid-exchange: the remote applied all of it or none; the next attempt pulls and sees.
      const reset = (e as { cause?: { code?: string } }).cause?.code === 'ECONNRESET';
      if (!reset || attempt === attempts) throw e;
      refused = ['(connection reset)'];
    }
    const moved = refused.length > 0;
    if (!moved) {
      await setTracking(journal.binding, name, wanted);
      await journal
        .recordRemote('push', { url, main: refs.main, count: journal.size, sealed: false })
        .catch(() => undefined);
      return { main: refs.main, concurrent: refs.concurrent, received, pushed: true, sent };
    }
  }
  throw new LedgerError(
    ErrorCode.REMOTE_REJECTED,
    `${url} kept moving while we pushed (${attempts} attempts): pull and push again`
  );
}
