/** Push: pull first, then main (fast-forward only) and the concurrent refs; never forced. */
import * as git from 'isomorphic-git';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { MAIN, type GitJournal } from './journal.ts';
import { pull } from './fetch.ts';
import { setTracking } from './quarantine.ts';
import { auth, remoteError, remoteName } from './remote-auth.ts';


export interface PushResult {
  main?: string;
  concurrent: string[];
  /** Events pulled first. */
  received: number;
  pushed: boolean;
}

/** Pulls, then pushes main (fast-forward only) and the concurrent refs; retries when the remote moved. */
export async function push(journal: GitJournal, url: string, attempts = 3): Promise<PushResult> {
  const { fs, gitdir, http } = journal.binding;
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
    const a = auth(journal.binding, url);
    let moved = false;
    try {
      for (const [r, oid] of [...wanted].sort(([x], [y]) => (x === 'main' ? -1 : y === 'main' ? 1 : 0))) {
        if (pulled.remote.get(r) === oid) continue;
        const res = await git.push({ fs, http: http as any, gitdir, url, ref: r === 'main' ? MAIN : `refs/heads/${r}`, remoteRef: `refs/heads/${r}`, onAuth: a.onAuth, onAuthFailure: a.onAuthFailure, corsProxy: journal.binding.corsProxy });
        if (!res.ok || res.refs[`refs/heads/${r}`]?.ok === false) {
          moved = true;
          break;
        }
      }
      if (!moved) {
        for (const r of pulled.remote.keys()) {
          if (wanted.has(r) || !r.startsWith('concurrent/')) continue;
          // isomorphic-git expands `ref` even to delete: name one that exists locally
          await git.push({ fs, http: http as any, gitdir, url, ref: MAIN, remoteRef: `refs/heads/${r}`, delete: true, onAuth: a.onAuth, onAuthFailure: a.onAuthFailure, corsProxy: journal.binding.corsProxy });
        }
      }
    } catch (e: any) {
      if (e?.code === 'PushRejectedError' || /fast-forward|rejected|fetch first/i.test(String(e?.message))) moved = true;
      else throw remoteError(e, url, a.failed);
    }
    if (!moved) {
      await setTracking(journal.binding, name, wanted);
      return { main: refs.main, concurrent: refs.concurrent, received, pushed: true };
    }
  }
  throw new LedgerError(ErrorCode.REMOTE_REJECTED, `${url} kept moving while we pushed (${attempts} attempts): pull and push again`);
}
