import { describe, expect, it } from 'vitest';
import { fromHex, toBase64url, toHex } from '../../../src/lib/core/bytes.ts';
import {
  exportPrivateKey,
  generateDeviceKey,
  importPrivateKey,
  isPublicKey,
  signerFromCryptoKey,
  verifySignature
} from '../../../src/lib/core/keys.ts';

/** RFC 8032 section 7.1, TEST 1 and TEST 2 (Ed25519). */
const RFC8032 = [
  {
    name: 'TEST 1 (empty message)',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    name: 'TEST 2 (one byte)',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  }
];

/** PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410). */
const pkcs8Of = (seedHex: string) => fromHex('302e020100300506032b657004220420' + seedHex);

describe('Ed25519 device keys', () => {
  for (const v of RFC8032) {
    it(`reproduces RFC 8032 ${v.name}`, async () => {
      const key = await importPrivateKey(pkcs8Of(v.secret));
      expect(key.publicKey).toBe(toBase64url(fromHex(v.public)));
      const sig = await signerFromCryptoKey(key.privateKey, key.publicKey).sign(fromHex(v.message));
      expect(toHex(sig)).toBe(v.signature);
      expect(await verifySignature(key.publicKey, fromHex(v.message), sig)).toBe(true);
      const bad = sig.slice();
      bad[5] ^= 1;
      expect(await verifySignature(key.publicKey, fromHex(v.message), bad)).toBe(false);
    });
  }

  it('round-trips an extractable key through PKCS#8', async () => {
    const k = await generateDeviceKey(true);
    const again = await importPrivateKey(await exportPrivateKey(k.privateKey));
    expect(again.publicKey).toBe(k.publicKey);
    expect(isPublicKey(k.publicKey)).toBe(true);
  });

  it('keeps a non-extractable key non-extractable', async () => {
    const k = await generateDeviceKey(false);
    await expect(exportPrivateKey(k.privateKey)).rejects.toThrow();
  });

  it('rejects malformed keys and signatures without throwing', async () => {
    expect(isPublicKey('abc')).toBe(false);
    expect(await verifySignature('not a key', new Uint8Array(), new Uint8Array(64))).toBe(false);
    const k = await generateDeviceKey(false);
    expect(await verifySignature(k.publicKey, new Uint8Array(), new Uint8Array(63))).toBe(false);
  });
});
