/// <reference types="vite/client" />
/**
 * Automerge's WebAssembly, loaded the way Vite can serve it in dev and in the build: the `/slim` entry point
 * plus `initializeWasm(url)`. The core imports `@automerge/automerge/slim` and expects this to have run.
 */
import { initializeWasm, isWasmInitialized } from '@automerge/automerge/slim';
import wasmUrl from '@automerge/automerge/automerge.wasm?url';

let ready: Promise<void> | undefined;

export function initAutomerge(): Promise<void> {
  if (isWasmInitialized()) return Promise.resolve();
  ready ??= initializeWasm(wasmUrl).catch((e: unknown) => {
    ready = undefined;
    throw e;
  });
  return ready;
}
