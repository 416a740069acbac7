/**
 * The Git journal in the browser (issue 3): every event the worker's ledger accepts, appended here, imported
 * or received from a teammate, is also a signed commit in a bare repository kept in IndexedDB (database
 * `provenance-ledger-git`, adapters/git/idb-fs.ts), written by the same code as the CLI's DIR/journal.git
 * (adapters/git/journal.ts), so the commit ids are the same.
 *
 * - The journal follows the host's open ledger (follow(), called by the worker after each request): attached
 *   in the background, so appends do not wait for their commits (writes are batched), and it catches up on
 *   open with every event that has no commit yet (a ledger from before the journal, or a write cut short).
 * - Requests (Settings page): `journal-status` (commits, head, concurrent heads, events without a commit,
 *   last push and pull), `journal-push` and `journal-pull` to a Git smart-HTTP remote; `journal-pull` on a
 *   device without a ledger clones one (every commit checked, nothing kept if any is refused). Credentials
 *   come with the request and live in memory for that request only.
 * - A browser reaches a remote only if the host answers CORS for this page's origin (or through a CORS proxy)
 *   and the app's Content-Security-Policy allows its origin (connect-src: http(s)://127.0.0.1:* and
 *   localhost by default, more with PL_GIT_ORIGINS at build/serve time). See README.md, "Git journal".
 */
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { Ledger } from '../core/ledger.ts';
import type { Problem } from '../core/verify.ts';
import type { Credentials, GitBinding } from '../adapters/git/binding.ts';
import type { GitJournal, JournalStatus } from '../adapters/git/journal.ts';
import { hintsDir } from '../adapters/git/event-map.ts';
import type { EngineState } from './protocol.ts';
import type { LedgerHost } from './host.ts';

export type JournalRequest =
  | { type: 'journal-status' }
  | { type: 'journal-push'; url: string; username?: string; password?: string; corsProxy?: string; plain?: boolean }
  | { type: 'journal-pull'; url: string; username?: string; password?: string; corsProxy?: string }
  | { type: 'journal-verify' };

export interface JournalPushResult {
  url: string;
  main: string | null;
  concurrent: number;
  /** Events pulled first. */
  received: number;
  /** The remote holds the sealed journal (ciphertext only), not a readable one. */
  sealed: boolean;
  status: JournalStatus;
}

export interface JournalPullResult {
  url: string;
  received: number;
  /** The device had no ledger: it was cloned from the remote. */
  cloned: boolean;
  status: JournalStatus;
  state: EngineState;
}

export interface JournalVerifyResult {
  ok: boolean;
  problems: Problem[];
  status: JournalStatus;
}

export interface JournalResults {
  'journal-status': JournalStatus | null;
  'journal-push': JournalPushResult;
  'journal-pull': JournalPullResult;
  'journal-verify': JournalVerifyResult;
}

export const JOURNAL_REQUESTS: ReadonlySet<string> = new Set([
  'journal-status',
  'journal-push',
  'journal-pull',
  'journal-verify'
]);
export const isJournalRequest = (r: { type: string }): r is JournalRequest => JOURNAL_REQUESTS.has(r.type);

export const JOURNAL_DB = 'provenance-ledger-git';

export interface BrowserJournalDeps {
  /** The journal's binding (default: IndexedDB `provenance-ledger-git` with the web HTTP client). */
  binding?: () => Promise<GitBinding>;
}

function remoteUrl(value: unknown): string {
  if (typeof value !== 'string' || !/^https?:\/\/\S+$/.test(value.trim())) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      'Give the remote as an http:// or https:// address (a Git smart-HTTP URL)'
    );
  }
  return value.trim();
}

export class BrowserJournal {
  readonly #host: LedgerHost;
  readonly #deps: BrowserJournalDeps;
  #binding?: Promise<GitBinding>;
  #journal?: GitJournal;
  #attaching?: Promise<GitJournal>;
  #ledger?: Ledger;
  /** Credentials of the request being handled (never stored). */
  #creds?: Credentials;
  #corsProxy?: string;

  constructor(host: LedgerHost, deps: BrowserJournalDeps = {}) {
    this.#host = host;
    this.#deps = deps;
  }

  async #getBinding(): Promise<GitBinding> {
    this.#binding ??= (async () => {
      const base = this.#deps.binding
        ? await this.#deps.binding()
        : await (await import('../adapters/git/idb-fs.ts')).browserBinding({ dbName: JOURNAL_DB });
      // The getter's own `this` is the binding; these arrows keep the journal's.
      const corsProxy = (): string | undefined => this.#corsProxy ?? base.corsProxy;
      return {
        ...base,
        credentials: async () => this.#creds,
        get corsProxy() {
          return corsProxy();
        }
      } as GitBinding;
    })();
    return this.#binding;
  }

  #openLedger(): Ledger | undefined {
    try {
      return this.#host.ledger();
    } catch {
      return undefined;
    }
  }

  /** Attaches the journal to the host's open ledger when that changed (in the background; never throws). */
  follow(): void {
    const ledger = this.#openLedger();
    if (!ledger || ledger === this.#ledger) return;
    this.#journal?.detach();
    this.#journal = undefined;
    this.#ledger = ledger;
    const attaching = (async () => {
      const { GitJournal } = await import('../adapters/git/journal.ts');
      return GitJournal.attach(await this.#getBinding(), ledger, { background: true });
    })();
    this.#attaching = attaching;
    attaching.then(
      (j) => {
        if (this.#ledger === ledger) this.#journal = j;
        else j.detach();
      },
      (e) => console.error('journal: could not attach', e)
    );
  }

  /** The journal of the open ledger (attached now if needed), or undefined without a ledger. */
  async journal(): Promise<GitJournal | undefined> {
    this.follow();
    if (!this.#ledger) return undefined;
    return this.#journal ?? (await this.#attaching);
  }

  async handle(request: JournalRequest): Promise<unknown> {
    switch (request.type) {
      case 'journal-status': {
        const j = await this.journal();
        return j ? j.status() : null;
      }
      case 'journal-verify': {
        const j = await this.#required();
        await j.settled();
        const { crossCheck } = await import('../adapters/git/crosscheck.ts');
        const problems = await crossCheck(j.binding, j.ledger);
        return { ok: problems.length === 0, problems, status: await j.status() } satisfies JournalVerifyResult;
      }
      case 'journal-push':
        return this.#withCreds(request, async (url) => {
          const j = await this.#required();
          await j.settled();
          let r: { main?: string; concurrent: string[]; received: number };
          const sealed = request.plain !== true;
          if (sealed) {
            // The sealed journal (adapters/git/sealed.ts): the host reads no name. The owner of a ledger without a
            // team key yet makes epoch 1, as its first sync would.
            const keys = await this.#archiveKeys(true);
            if (!keys.length)
              throw new LedgerError(
                ErrorCode.SEALED_KEY_MISSING,
                'This device holds no team key to seal the journal with: sync with your team first, or push a readable journal.'
              );
            const { pushSealed } = await import('../adapters/git/sealed.ts');
            r = await pushSealed(j, url, keys);
          } else {
            const { push } = await import('../adapters/git/push.ts');
            r = await push(j, url);
          }
          if (r.received) await this.#host.saveOpenCache().catch(() => undefined);
          return {
            url,
            sealed,
            main: r.main ?? null,
            concurrent: r.concurrent.length,
            received: r.received,
            status: await j.status()
          } satisfies JournalPushResult;
        });
      case 'journal-pull':
        return this.#withCreds(request, (url) => this.#pull(url));
    }
  }

  /** The ledger's state as the page takes it (the host's page form when it has one). */
  async #pageState(): Promise<EngineState> {
    const s = await this.#host.open();
    const page = (this.#host as unknown as { pageState?: (s: EngineState) => EngineState }).pageState;
    return page ? page.call(this.#host, s) : s;
  }

  async #required(): Promise<GitJournal> {
    const j = await this.journal();
    if (!j) throw new LedgerError(ErrorCode.NOT_INITIALIZED, 'no ledger is open on this device');
    return j;
  }

  async #withCreds<T>(
    request: { url: unknown; username?: unknown; password?: unknown; corsProxy?: unknown },
    fn: (url: string) => Promise<T>
  ): Promise<T> {
    const url = remoteUrl(request.url);
    const username = typeof request.username === 'string' ? request.username : '';
    const password = typeof request.password === 'string' ? request.password : '';
    this.#creds = username || password ? { username: username || 'x-access-token', password } : undefined;
    this.#corsProxy =
      typeof request.corsProxy === 'string' && request.corsProxy.trim() ? remoteUrl(request.corsProxy) : undefined;
    try {
      return await fn(url);
    } finally {
      this.#creds = undefined;
      this.#corsProxy = undefined;
    }
  }

  /** The archive keys of the team key epochs this device holds (core/journal/sealed.ts). */
  async #archiveKeys(create = false) {
    const { loadTeamKeys, ensureTeamKey } = await import('../core/team/teamkey.ts');
    const { archiveKeys } = await import('../core/journal/sealed.ts');
    const storage = await this.#host.storage();
    if (create) {
      const me = this.#host.deviceIdentity()?.signer.publicKey;
      const ledger = this.#openLedger();
      if (me && ledger?.member(me)?.role === 'owner') await ensureTeamKey(storage, true);
    }
    return archiveKeys(await loadTeamKeys(storage));
  }

  async #pull(url: string): Promise<JournalPullResult> {
    const j = await this.journal();
    const keys = await this.#archiveKeys();
    if (j) {
      await j.settled();
      const { pull } = await import('../adapters/git/fetch.ts');
      const { sealedFetch } = await import('../adapters/git/sealed.ts');
      const r = await pull(j, url, keys.length ? await sealedFetch(j, keys) : undefined);
      await j.settled();
      if (r.received) await this.#host.saveOpenCache().catch(() => undefined);
      return { url, received: r.received, cloned: false, status: await j.status(), state: await this.#pageState() };
    }
    // No ledger on this device: clone it from the remote.
    const binding = await this.#getBinding();
    const storage = await this.#host.storage();
    const { clone } = await import('../adapters/git/clone.ts');
    let cloned: GitJournal;
    try {
      await removeJournal(binding);
      cloned = await clone(binding, url, storage, this.#host.deviceIdentity()?.signer, keys);
    } catch (e) {
      await storage.removeRange(['doc']).catch(() => undefined);
      await removeJournal(binding).catch(() => undefined);
      throw e;
    }
    await cloned.settled();
    cloned.detach();
    await this.#host.reopen();
    const state = await this.#pageState();
    const received = cloned.ledger.size;
    await this.#host.saveOpenCache().catch(() => undefined);
    const attached = await this.#required();
    await attached.settled();
    return { url, received, cloned: true, status: await attached.status(), state };
  }
}

/** Removes the journal's repository (everything under its gitdir) and its commit-id cache from the binding's file system. */
export async function removeJournal(binding: GitBinding): Promise<void> {
  const { fs } = binding;
  const rm = async (path: string): Promise<void> => {
    const st = await fs.promises.stat(path).catch(() => undefined);
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of await fs.promises.readdir(path)) await rm(`${path}/${name}`);
      await fs.promises.rmdir(path).catch(() => undefined);
    } else await fs.promises.unlink(path).catch(() => undefined);
  };
  await rm(binding.gitdir);
  await rm(hintsDir(binding));
}
