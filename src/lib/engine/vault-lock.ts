/**
 * A passphrase on the prompt vault, as a StorageAdapter wrapper (the worker wraps its IndexedDB storage in it).
 *
 * Keys under `vault/` hold prompt openings (core/vault.ts). Once a passphrase is set, each such value is
 * stored as  "PLV1" || iv(12) || AES-256-GCM(key, iv, value, aad = the key path)  where the key is derived from
 * the passphrase with Argon2id (the parameters and a check value are kept under `vault-lock`). Everything else
 * (the ledger's chunks, policy texts) passes through untouched. The derived key lives only in the worker's
 * memory: after a reload the vault is locked until the passphrase is entered again, and saving or reading a
 * prompt while locked fails with VAULT_LOCKED (the ledger itself keeps working; it holds commitments only).
 *
 * Setting the passphrase re-encrypts every entry in one storage batch; changing it needs the current one.
 */
import { deriveKey } from '../core/backup.ts';
import type { StorageAdapter, StorageChunk, StorageKey } from '../core/storage.ts';
import { fromBase64url, toBase64url, utf8, fromUtf8 } from '../core/bytes.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { VaultStatus } from './protocol.ts';

const VAULT = 'vault';
const META_KEY = ['vault-lock'];
const MAGIC = utf8('PLV1');
const CHECK = 'provenance-ledger vault check';
export const VAULT_LOCKED = 'VAULT_LOCKED';

interface Meta {
  v: 1;
  kdf: { alg: 'argon2id'; salt: string; iterations: number; memoryKiB: number; parallelism: number };
  check: string;
}

const locked = () =>
  Object.assign(new Error('The prompt vault is locked: enter its passphrase in Settings.'), { code: VAULT_LOCKED });

const derive = (passphrase: string, kdf: Meta['kdf']): Promise<CryptoKey> => deriveKey(passphrase, kdf);

async function seal(key: CryptoKey, data: Uint8Array, aad: string): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: utf8(aad) as BufferSource },
      key,
      data as BufferSource
    )
  );
  const out = new Uint8Array(4 + 12 + ct.length);
  out.set(MAGIC, 0);
  out.set(iv, 4);
  out.set(ct, 16);
  return out;
}

async function open(key: CryptoKey, data: Uint8Array, aad: string): Promise<Uint8Array> {
  if (data.length < 16 + 16 || !MAGIC.every((b, i) => data[i] === b)) {
    throw new LedgerError(ErrorCode.STORAGE_CORRUPT, `vault entry ${aad} is not encrypted`);
  }
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: data.subarray(4, 16) as BufferSource, additionalData: utf8(aad) as BufferSource },
        key,
        data.subarray(16) as BufferSource
      )
    );
  } catch {
    throw new LedgerError(ErrorCode.STORAGE_CORRUPT, `vault entry ${aad} does not decrypt: it was altered`);
  }
}

const isVault = (key: StorageKey) => key[0] === VAULT;
const path = (key: StorageKey) => key.join('/');

export class VaultLock implements StorageAdapter {
  readonly #inner: StorageAdapter;
  #meta: Meta | null | undefined;
  #key: CryptoKey | null = null;
  readonly #kdf: { iterations: number; memoryKiB: number; parallelism: number };

  constructor(inner: StorageAdapter, kdf = { iterations: 3, memoryKiB: 65536, parallelism: 1 }) {
    this.#inner = inner;
    this.#kdf = kdf;
  }

  async #readMeta(): Promise<Meta | null> {
    if (this.#meta === undefined) {
      const bytes = await this.#inner.load(META_KEY);
      this.#meta = bytes ? (JSON.parse(fromUtf8(bytes)) as Meta) : null;
    }
    return this.#meta;
  }

  async #keyForWrite(): Promise<CryptoKey | null> {
    const meta = await this.#readMeta();
    if (!meta) return null;
    if (!this.#key) throw locked();
    return this.#key;
  }

  async status(): Promise<VaultStatus> {
    const meta = await this.#readMeta();
    const entries = (await this.#inner.listKeys([VAULT])).length;
    return { protected: meta !== null, unlocked: meta === null || this.#key !== null, entries };
  }

  async unlock(passphrase: unknown): Promise<VaultStatus> {
    const meta = await this.#readMeta();
    if (!meta) return this.status();
    if (typeof passphrase !== 'string' || passphrase.length === 0)
      throw new LedgerError(ErrorCode.BAD_INPUT, 'Enter the vault passphrase');
    const key = await derive(passphrase, meta.kdf);
    try {
      await open(key, fromBase64url(meta.check), CHECK);
    } catch {
      throw new LedgerError(ErrorCode.BAD_PASSPHRASE, 'Wrong vault passphrase.');
    }
    this.#key = key;
    return this.status();
  }

  lock(): Promise<VaultStatus> {
    this.#key = null;
    return this.status();
  }

  /** Sets or changes the passphrase; every entry is re-encrypted in one batch. */
  async setPassphrase(passphrase: unknown, current?: unknown): Promise<VaultStatus> {
    if (typeof passphrase !== 'string' || passphrase.length < 8) {
      throw new LedgerError(ErrorCode.BAD_INPUT, 'The vault passphrase must be at least 8 characters');
    }
    const meta = await this.#readMeta();
    if (meta) await this.unlock(current); // proves the current passphrase, and gives the old key
    const oldKey = this.#key;
    const kdf: Meta['kdf'] = {
      alg: 'argon2id',
      salt: toBase64url(crypto.getRandomValues(new Uint8Array(16))),
      ...this.#kdf
    };
    const key = await derive(passphrase, kdf);
    const next: Meta = { v: 1, kdf, check: toBase64url(await seal(key, utf8(CHECK), CHECK)) };
    const writes: StorageChunk[] = [];
    for (const c of await this.#inner.loadRange([VAULT])) {
      const plain = meta && oldKey ? await open(oldKey, c.data, path(c.key)) : c.data;
      writes.push({ key: c.key, data: await seal(key, plain, path(c.key)) });
    }
    writes.push({ key: META_KEY, data: utf8(JSON.stringify(next)) });
    if (this.#inner.saveMany) await this.#inner.saveMany(writes);
    else for (const w of writes) await this.#inner.save(w.key, w.data);
    this.#meta = next;
    this.#key = key;
    return this.status();
  }

  // ---- StorageAdapter

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const data = await this.#inner.load(key);
    if (!data || !isVault(key)) return data;
    const k = await this.#keyForWrite();
    return k ? open(k, data, path(key)) : data;
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    if (!isVault(key)) return this.#inner.save(key, data);
    const k = await this.#keyForWrite();
    return this.#inner.save(key, k ? await seal(k, data, path(key)) : data);
  }

  remove(key: StorageKey): Promise<void> {
    return this.#inner.remove(key);
  }

  async loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    const chunks = await this.#inner.loadRange(prefix);
    if (!chunks.some((c) => isVault(c.key))) return chunks;
    const k = await this.#keyForWrite();
    if (!k) return chunks;
    return Promise.all(
      chunks.map(async (c) => (isVault(c.key) ? { key: c.key, data: await open(k, c.data, path(c.key)) } : c))
    );
  }

  listKeys(prefix: StorageKey): Promise<StorageKey[]> {
    return this.#inner.listKeys(prefix);
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.#inner.removeRange(prefix);
  }

  async saveMany(writes: StorageChunk[], removals?: StorageKey[]): Promise<void> {
    let out = writes;
    if (writes.some((w) => isVault(w.key))) {
      const k = await this.#keyForWrite();
      if (k)
        out = await Promise.all(
          writes.map(async (w) => (isVault(w.key) ? { key: w.key, data: await seal(k, w.data, path(w.key)) } : w))
        );
    }
    if (this.#inner.saveMany) return this.#inner.saveMany(out, removals);
    for (const w of out) await this.#inner.save(w.key, w.data);
    for (const r of removals ?? []) await this.#inner.remove(r);
  }
}
