/** The browser device identity over fake-indexeddb (real IndexedDB in Chromium is covered by the e2e tests). */
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import {
  ensureIdentity,
  identitySigner,
  loadIdentity,
  renameIdentity
} from '../../../src/lib/adapters/browser-identity.ts';
import { verifySignature } from '../../../src/lib/core/keys.ts';

let n = 0;
const db = () => `identity-test-${++n}`;

describe('browser identity', () => {
  it('is made once, with a non-extractable Ed25519 key that signs', async () => {
    const name = db();
    expect(await loadIdentity(name)).toBeUndefined();
    const id = await ensureIdentity('  Ada ', name);
    expect(id.memberName).toBe('Ada');
    expect(id.privateKey.extractable).toBe(false);
    expect(id.privateKey.algorithm.name).toBe('Ed25519');
    await expect(crypto.subtle.exportKey('pkcs8', id.privateKey)).rejects.toThrow();

    const again = await ensureIdentity('Someone else', name);
    expect(again.publicKey).toBe(id.publicKey);
    expect(again.memberName).toBe('Ada');
    expect((await loadIdentity(name))?.publicKey).toBe(id.publicKey);

    const msg = new TextEncoder().encode('hello');
    const sig = await identitySigner(again).sign(msg);
    expect(await verifySignature(id.publicKey, msg, sig)).toBe(true);
  });

  it('is renamed with its key unchanged (a device that joined as another device of a member)', async () => {
    const name = db();
    await expect(renameIdentity('Bea', name)).rejects.toThrow('no identity');
    const id = await ensureIdentity('Bea laptop', name);
    const renamed = await renameIdentity(' Bea ', name);
    expect(renamed.memberName).toBe('Bea');
    const back = (await loadIdentity(name))!;
    expect([back.memberName, back.publicKey, back.createdAt]).toEqual(['Bea', id.publicKey, id.createdAt]);
    expect(back.privateKey.extractable).toBe(false);
    const msg = new TextEncoder().encode('still signs');
    expect(await verifySignature(id.publicKey, msg, await identitySigner(back).sign(msg))).toBe(true);
    await expect(renameIdentity('', name)).rejects.toThrow(RangeError);
  });

  it('refuses empty names and malformed stored records', async () => {
    const name = db();
    await expect(ensureIdentity('  ', name)).rejects.toThrow(RangeError);
    await ensureIdentity('Ada', name);
    const raw = await openDB(name, 1);
    await raw.put('identity', { privateKey: 'not a key', publicKey: 'x', memberName: 'y', createdAt: 'z' }, 'device');
    raw.close();
    await expect(loadIdentity(name)).rejects.toThrow('malformed');
  });
});
