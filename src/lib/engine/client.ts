/**
 * The page side of the worker RPC: `call(request)` posts one request and resolves with its typed result, or
 * rejects with an EngineError carrying the worker's error code.
 */
import {
  EngineError,
  EngineErrorCode,
  PROTOCOL_VERSION,
  isNoticeMessage,
  isResponseMessage,
  type ChangeNotice,
  type Progress,
  type RequestOf,
  type RequestType,
  type Results
} from './protocol.ts';

/** The subset of Worker the client needs, so tests can pass a MessageChannel port or a fake. */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  addEventListener(type: 'error', listener: (e: ErrorEvent) => void): void;
  terminate?(): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: EngineError): void;
  onProgress?: (p: Progress) => void;
}

export class EngineClient {
  readonly #worker: WorkerLike;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #broken?: EngineError;
  readonly #noticeListeners = new Set<(n: ChangeNotice) => void>();

  constructor(worker: WorkerLike) {
    this.#worker = worker;
    worker.addEventListener('message', (e: MessageEvent) => this.#receive(e.data));
    worker.addEventListener('error', (e: ErrorEvent) => {
      // The worker failed to load or threw outside a request: every pending and later call fails.
      this.#fail(
        new EngineError({
          code: EngineErrorCode.UNAVAILABLE,
          message: `the ledger engine stopped: ${e.message || 'failed to load'}`
        })
      );
    });
  }

  /** Starts the ledger worker bundled with the app. */
  static start(): EngineClient {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'ledger-engine' });
    return new EngineClient(worker);
  }

  call<T extends RequestType>(
    request: RequestOf<T>,
    onProgress?: (p: Progress) => void,
    transfer?: Transferable[]
  ): Promise<Results[T]> {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    return new Promise<Results[T]>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      try {
        if (transfer?.length) this.#worker.postMessage({ v: PROTOCOL_VERSION, id, request }, transfer);
        else this.#worker.postMessage({ v: PROTOCOL_VERSION, id, request });
      } catch (e) {
        this.#pending.delete(id);
        reject(
          new EngineError({
            code: EngineErrorCode.PROTOCOL,
            message: `could not send the request: ${(e as Error).message}`
          })
        );
      }
    });
  }

  /** Calls `fn` with each change notice the worker sends unasked (events stored); returns the unsubscribe function. */
  onNotice(fn: (n: ChangeNotice) => void): () => void {
    this.#noticeListeners.add(fn);
    return () => this.#noticeListeners.delete(fn);
  }

  #receive(m: unknown): void {
    if (isNoticeMessage(m)) {
      for (const fn of [...this.#noticeListeners]) fn(m.notice);
      return;
    }
    if (!isResponseMessage(m)) return;
    const p = this.#pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') {
      p.onProgress?.(m.progress);
      return;
    }
    this.#pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new EngineError(m.error));
  }

  #fail(error: EngineError): void {
    this.#broken = error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  dispose(): void {
    this.#fail(new EngineError({ code: EngineErrorCode.UNAVAILABLE, message: 'the ledger engine was closed' }));
    this.#worker.terminate?.();
  }
}
