/**
 * The Git journal in the browser (issue 3: "in Chromium with real IndexedDB, at least 100 events/s appended
 * together with the journal"), against the built app (run `vite build` first; PL_BUILD_DIR as for
 * scripts/serve.js) in headless Chromium (Debian's /usr/bin/chromium):
 *
 *   browser_journal_events_per_s          appends through the app's ledger worker, each request awaited before the
 *                                         next (as the pages make them), counted until the journal in IndexedDB
 *                                         holds every one of them as a commit (journal-status: commits = events)
 *   browser_journal_pipelined_per_s       the same with every request posted at once (the worker still runs them
 *                                         one at a time; the journal writes behind in batches)
 *   browser_appends_per_s                 the awaited appends alone (the time until the last append answered),
 *                                         for comparison: what the journal costs is the difference
 *   browser_journal_catch_up_10k_s        a 10,000-event ledger imported on a fresh device (Settings' import
 *                                         request): from the import's answer until the journal holds all 10,000
 *                                         commits (written behind, while the app stays usable)
 *   browser_journal_reopen_10k_ms         a new worker (a page reload) on that device: from its open answer until
 *                                         the journal reports all 10,000 commits again (commit-id cache read,
 *                                         nothing recomputed or rewritten)
 *
 * The ledger worker is the app's own module (build/_app/immutable/workers/worker-*.js), started on a
 * same-origin page that does not boot the app, and spoken to with the app's protocol (protocol.ts).
 *
 *   node tests/bench/journal-browser.ts [--events 500] [--catch-up 10000]   (--catch-up 0 skips that part)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, launchChromium, serve } from './_app.ts';

const log = (s: string) => process.stderr.write(`journal-browser bench: ${s}\n`);

/** The built ledger worker: the worker module that answers journal requests. */
function workerPath(): string {
  const build = path.resolve(ROOT, process.env.PL_BUILD_DIR || 'build');
  const dir = path.join(build, '_app/immutable/workers');
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
  const f = files.find((x) => readFileSync(path.join(dir, x), 'utf8').includes('journal-status'));
  if (!f) throw new Error(`no ledger worker with the journal in ${dir}: run vite build first`);
  return `/_app/immutable/workers/${f}`;
}

export interface JournalBrowserResult {
  browser_journal_events_per_s: number;
  browser_journal_pipelined_per_s: number;
  browser_appends_per_s: number;
  browser_journal_catch_up_10k_s?: number;
  browser_journal_reopen_10k_ms?: number;
}

/** In the page: a worker and a call() that speaks the app's protocol to it (as a string, evaluated there). */
const CLIENT = `(workerUrl) => {
  const w = new Worker(workerUrl, { type: 'module' });
  let next = 1;
  const waiting = new Map();
  w.onmessage = (e) => {
    const m = e.data;
    if (m.kind !== 'result' || typeof m.id !== 'number') return;
    const p = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) p && p.resolve(m.result);
    else p && p.reject(new Error(m.error && m.error.message));
  };
  const call = (request) => new Promise((resolve, reject) => {
    const id = next++;
    waiting.set(id, { resolve, reject });
    w.postMessage({ v: 1, id, request });
  });
  return { w, call };
}`;

export async function runJournalBrowserBench(
  opts: { events?: number; catchUp?: number } = {}
): Promise<JournalBrowserResult> {
  const events = opts.events ?? 500;
  const worker = workerPath();
  const { url, child } = await serve();
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ baseURL: url })).newPage();
    page.setDefaultTimeout(600_000);
    await page.goto('/favicon.svg'); // same origin, no app booted: the only ledger worker is ours
    const r = await page.evaluate(
      async ({ worker, events }) => {
        const w = new Worker(worker, { type: 'module' });
        let next = 1;
        const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
        w.onmessage = (e: MessageEvent) => {
          const m = e.data as {
            id?: number;
            kind?: string;
            ok?: boolean;
            result?: unknown;
            error?: { message: string };
          };
          if (m.kind !== 'result' || typeof m.id !== 'number') return;
          const p = waiting.get(m.id);
          waiting.delete(m.id);
          if (m.ok) p?.resolve(m.result);
          else p?.reject(new Error(m.error?.message));
        };
        const call = (request: Record<string, unknown>) =>
          new Promise<any>((resolve, reject) => {
            const id = next++;
            waiting.set(id, { resolve, reject });
            w.postMessage({ v: 1, id, request });
          });
        const input = (i: number) => ({
          project: `Bench ${i}`,
          classification: 'client',
          policySnapshots: [],
          items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
        });
        const caughtUp = async (count: number) => {
          for (;;) {
            const s = await call({ type: 'journal-status' });
            if (s && s.commits >= count && s.pending === 0) return s;
            await new Promise((r) => setTimeout(r, 5));
          }
        };
        await call({ type: 'open' });
        await call({ type: 'create', memberName: 'Ada', ledgerName: 'Bench' });
        for (let i = 0; i < 20; i++) await call({ type: 'record-checklist', input: input(i) }); // warm-up
        await caughtUp(21);
        // Awaited one by one.
        let t0 = performance.now();
        for (let i = 0; i < events; i++) await call({ type: 'record-checklist', input: input(i) });
        const appended = performance.now() - t0;
        const s1 = await caughtUp(21 + events);
        const withJournal = performance.now() - t0;
        // Posted at once.
        t0 = performance.now();
        await Promise.all(
          Array.from({ length: events }, (_, i) => call({ type: 'record-checklist', input: input(i) }))
        );
        const s2 = await caughtUp(21 + 2 * events);
        const pipelined = performance.now() - t0;
        w.terminate();
        return { appended, withJournal, pipelined, commits: s2.commits, head: s1.head };
      },
      { worker, events }
    );
    log(
      `${events} appends awaited one by one: answered in ${(r.appended / 1000).toFixed(2)} s, in the journal after ${(r.withJournal / 1000).toFixed(2)} s; posted at once: ${(r.pipelined / 1000).toFixed(2)} s; ${r.commits} commits`
    );
    const out: JournalBrowserResult = {
      browser_journal_events_per_s: Math.round(events / (r.withJournal / 1000)),
      browser_journal_pipelined_per_s: Math.round(events / (r.pipelined / 1000)),
      browser_appends_per_s: Math.round(events / (r.appended / 1000))
    };
    const big = opts.catchUp ?? 10_000;
    if (big > 0) {
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-jbench-'));
      try {
        log(`seeding a ledger of ${big} events in Node…`);
        execFileSync(process.execPath, ['tests/e2e/support/seed-ledger.ts', '--out', tmp, '--events', String(big)], {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'inherit']
        });
        const text = readFileSync(path.join(tmp, 'ledger.jsonl'), 'utf8');
        const p2 = await (await browser.newContext({ baseURL: url })).newPage(); // a fresh device (its own IndexedDB)
        p2.setDefaultTimeout(600_000);
        await p2.goto('/favicon.svg');
        const c = await p2.evaluate(
          async ({ client, worker, text, big }) => {
            const make = (0, eval)(client);
            const poll = async (call: (r: unknown) => Promise<any>) => {
              for (;;) {
                const st = await call({ type: 'journal-status' });
                if (st && st.commits >= big && st.pending === 0) return st;
                await new Promise((res) => setTimeout(res, 20));
              }
            };
            let { w, call } = make(worker);
            await call({ type: 'open' });
            const t0 = performance.now();
            await call({ type: 'import-ledger', file: new Blob([text]) });
            const imported = performance.now() - t0;
            const t1 = performance.now();
            await poll(call);
            const caughtUp = performance.now() - t1;
            w.terminate();
            ({ w, call } = make(worker));
            await call({ type: 'open' });
            await call({ type: 'identity' }); // waits for the ledger's load, as any request but open does
            const t2 = performance.now();
            const st = await poll(call);
            const reopen = performance.now() - t2;
            w.terminate();
            return { imported, caughtUp, reopen, commits: st.commits };
          },
          { client: CLIENT, worker, text, big }
        );
        log(
          `${big} events imported in ${(c.imported / 1000).toFixed(1)} s; the journal held all ${c.commits} commits ${(c.caughtUp / 1000).toFixed(1)} s later; after a reload, ${Math.round(c.reopen)} ms until it reports them again`
        );
        out.browser_journal_catch_up_10k_s = +(c.caughtUp / 1000).toFixed(2);
        out.browser_journal_reopen_10k_ms = Math.round(c.reopen);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    return out;
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }
}

/** bench.ts hook entry point. */
export async function bench(ctx: { log?: (s: string) => void } = {}): Promise<Record<string, number>> {
  void ctx;
  return { ...(await runJournalBrowserBench()) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const num = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  console.log(
    JSON.stringify(await runJournalBrowserBench({ events: num('--events'), catchUp: num('--catch-up') }), null, 2)
  );
  process.exit(0);
}
