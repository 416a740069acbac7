/**
 * LedgerSession: the one object pages talk to. It holds what the UI shows as Svelte 5 state and forwards
 * every action to the ledger worker; pages never see Automerge, keys or storage.
 */
import { createContext } from 'svelte';
import type { LedgerEvent } from '../core/event.ts';
import type { VerifyReport } from '../core/verify.ts';
import { EngineClient } from './client.ts';
import {
  EngineError,
  toErrorInfo,
  type EngineState,
  type ChecklistInput,
  type ErrorInfo,
  type GenerationInput,
  type PolicyInput,
  type LedgerInfo,
  type MemberInfo,
  type Progress,
  type RequestOf,
  type RequestType,
  type Results
} from './protocol.ts';
import type { CustodyInput } from './custody.ts';

export type SessionStatus = 'starting' | 'empty' | 'ready' | 'failed';

/** Lets the page paint and handle input (scheduler.yield where there is one; setTimeout clamps to 4 ms). */
const yieldToPage = (): Promise<void> => {
  const sched = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  return sched?.yield ? sched.yield() : new Promise((r) => setTimeout(r, 0));
};

/** Events parsed from JSON lines a slice at a time, yielding between slices: no long task at open. */
const SLICE = 1000;
async function parseJsonl(text: string): Promise<LedgerEvent[]> {
  const lines = text.length ? text.split('\n') : [];
  const out: LedgerEvent[] = [];
  for (let i = 0; i < lines.length; i += SLICE) {
    if (i > 0) await yieldToPage();
    for (const e of JSON.parse(`[${lines.slice(i, i + SLICE).join(',')}]`) as LedgerEvent[]) out.push(e);
  }
  return out;
}

export class LedgerSession {
  status = $state<SessionStatus>('starting');
  ledger = $state.raw<LedgerInfo | null>(null);
  member = $state.raw<MemberInfo | null>(null);
  /** All events, oldest first. Replaced, never mutated: `$state.raw` keeps 10k events cheap. */
  events = $state.raw<LedgerEvent[]>([]);
  report = $state.raw<VerifyReport | null>(null);
  /** The last failure, for the page's alert region; cleared by the next successful action. */
  error = $state.raw<ErrorInfo | null>(null);
  /** What the engine is doing now ("Verifying…"), or null when idle. */
  activity = $state<string | null>(null);
  progress = $state.raw<Progress | null>(null);

  readonly #client: EngineClient;
  /** The hashing worker (hash-worker.ts), started on first use; only with the bundled ledger worker. */
  #hasher: EngineClient | null | undefined;

  constructor(client?: EngineClient) {
    this.#client = client ?? EngineClient.start();
    if (client) this.#hasher = null;
  }

  #clientFor(type: RequestType): EngineClient {
    if (type !== 'hash-files' || this.#hasher === null) return this.#client;
    this.#hasher ??= new EngineClient(new Worker(new URL('./hash-worker.ts', import.meta.url), { type: 'module', name: 'hasher' }));
    return this.#hasher;
  }

  /** The worker client, for pages with their own requests (the Team page's sync bridge). */
  get engine(): EngineClient {
    return this.#client;
  }

  /** Newest first, for lists. */
  readonly newestFirst = $derived([...this.events].reverse());

  async #apply(s: EngineState): Promise<void> {
    if (s.state === 'empty') {
      this.status = 'empty';
      this.ledger = null;
      this.member = null;
      this.events = [];
    } else {
      const events = s.eventsJsonl !== undefined ? await parseJsonl(s.eventsJsonl) : s.events;
      this.ledger = s.ledger;
      this.member = s.member;
      this.events = events;
      this.status = 'ready';
    }
  }

  async #run<T>(activity: string, work: () => Promise<T>): Promise<T | undefined> {
    this.activity = activity;
    this.progress = null;
    try {
      const result = await work();
      this.error = null;
      return result;
    } catch (e) {
      this.error = e instanceof EngineError ? e.toJSON() : toErrorInfo(e);
      return undefined;
    } finally {
      this.activity = null;
      this.progress = null;
    }
  }

  async start(): Promise<void> {
    const s = await this.#run('Opening your ledger…', () => this.#client.call({ type: 'open' }));
    if (s) await this.#apply(s);
    else this.status = 'failed';
  }

  async create(memberName: string, ledgerName: string, backupPassphrase?: string): Promise<boolean> {
    const s = await this.#run('Creating your ledger…', () =>
      this.#client.call({ type: 'create', memberName, ledgerName, ...(backupPassphrase ? { backupPassphrase } : {}) })
    );
    if (s) await this.#apply(s);
    return s !== undefined;
  }

  /**
   * Any request, with its activity line and progress shown. A failure goes to `error` (the alert region) and
   * gives undefined; with `{ inline: true }` it is thrown instead (an EngineError) for the page to show
   * beside its form.
   */
  async request<T extends RequestType>(request: RequestOf<T>, activity: string, opts: { inline?: boolean } = {}): Promise<Results[T] | undefined> {
    this.activity = activity;
    this.progress = null;
    try {
      const result = await this.#clientFor(request.type).call(request, (p) => (this.progress = p));
      this.error = null;
      return result;
    } catch (e) {
      if (opts.inline) throw e instanceof EngineError ? e : new EngineError(toErrorInfo(e));
      this.error = e instanceof EngineError ? e.toJSON() : toErrorInfo(e);
      return undefined;
    } finally {
      this.activity = null;
      this.progress = null;
    }
  }

  /** Takes the engine's state after a change made elsewhere in the worker (import, key restore). */
  adopt(s: EngineState): Promise<void> {
    this.report = null;
    return this.#apply(s);
  }

  async recordCustody(input: CustodyInput): Promise<LedgerEvent | undefined> {
    const event = await this.request({ type: 'record-custody', input }, `Recording the ${input.type}…`);
    this.#appended(event);
    return event;
  }

  async recordGeneration(input: GenerationInput): Promise<LedgerEvent | undefined> {
    const event = await this.#run('Recording the generation…', () =>
      this.#client.call({ type: 'record-generation', input }, (p) => (this.progress = p))
    );
    if (event) {
      this.events = [...this.events, event];
      this.report = null; // a report about fewer events is stale
    }
    return event;
  }

  #appended(event: LedgerEvent | undefined): void {
    if (event) {
      this.events = [...this.events, event];
      this.report = null;
    }
  }

  async recordChecklist(input: ChecklistInput): Promise<LedgerEvent | undefined> {
    const event = await this.#run('Recording the checklist…', () => this.#client.call({ type: 'record-checklist', input }));
    this.#appended(event);
    return event;
  }

  async recordPolicy(input: PolicyInput): Promise<LedgerEvent | undefined> {
    const event = await this.#run('Saving the policy snapshot…', () => this.#client.call({ type: 'record-policy', input }));
    this.#appended(event);
    return event;
  }

  /** The text of a policy snapshot kept on this device (null when it is not here). Errors go to `error`. */
  async policyText(sha256: string): Promise<string | null | undefined> {
    try {
      return await this.#client.call({ type: 'policy-text', sha256 });
    } catch (e) {
      this.error = e instanceof EngineError ? e.toJSON() : toErrorInfo(e);
      return undefined;
    }
  }

  async verify(): Promise<VerifyReport | undefined> {
    this.report = null;
    const report = await this.#run('Verifying every event…', () => this.#client.call({ type: 'verify' }));
    if (report) this.report = report;
    return report;
  }

  dismissError(): void {
    this.error = null;
  }

  dispose(): void {
    this.#client.dispose();
    this.#hasher?.dispose();
  }
}

const [getSession, setSession] = createContext<LedgerSession>();
export { getSession, setSession };
