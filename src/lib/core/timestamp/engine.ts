/**
 * The WebCrypto engine pkijs uses here: always globalThis.crypto (Node 22, browsers, workers), passed explicitly
 * to every pkijs call that does crypto. pkijs 4 also installs a global engine when its module loads (from
 * globalThis.crypto; under Node it keeps it on `global[process.pid]`), but nothing here relies on that.
 */
import { CryptoEngine } from 'pkijs';

let engine: CryptoEngine | undefined;

export function webCryptoEngine(): CryptoEngine {
  if (!engine) {
    const crypto = globalThis.crypto;
    if (!crypto?.subtle) throw new Error('WebCrypto (globalThis.crypto.subtle) is not available');
    engine = new CryptoEngine({ name: 'webcrypto', crypto });
  }
  return engine;
}
