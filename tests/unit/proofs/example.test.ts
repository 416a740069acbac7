/**
 * ledger-schema/examples/bundle re-verified: the bundle the CLI wrote is valid with its model.glb, and the
 * intermediate values (leaf hashes, proof chains, root) are recomputed here with node:crypto alone, as an outsider
 * following ledger-schema/README.md sections 13-17 would.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../ledger-schema/examples/bundle');
const read = (f: string) => readFileSync(path.join(DIR, f));
const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

describe('the worked example bundle', () => {
  it('verifies with its file', async () => {
    const model = read('model.glb');
    const r = await verifyBundle(read('bundle.json'), [{ name: 'model.glb', sha256: sha256(model).toString('hex') }]);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('its intermediate values follow from the bytes by the rules of the README, with no code of ours', () => {
    const bundle = JSON.parse(read('bundle.json').toString('utf8'));
    const mid = JSON.parse(read('intermediate.json').toString('utf8'));
    const [origin, sizeLine, rootLine] = bundle.checkpoint.split('\n');
    expect(origin).toBe(mid.checkpoint.origin);
    const size = Number(sizeLine);
    for (const [i, e] of bundle.events.entries()) {
      const leaf = sha256(Buffer.from([0]), Buffer.from(e.envelope, 'utf8'));
      expect(leaf.toString('hex')).toBe(mid.events[i].leafHash);
      // RFC 9162 2.1.3.2.
      let fn = e.leaf;
      let sn = size - 1;
      let r = leaf;
      for (const p of e.proof.map((x: string) => Buffer.from(x, 'base64'))) {
        if (fn % 2 === 1 || fn === sn) {
          r = sha256(Buffer.from([1]), p, r);
          while (fn % 2 === 0 && fn !== 0) {
            fn >>= 1;
            sn >>= 1;
          }
        } else r = sha256(Buffer.from([1]), r, p);
        fn >>= 1;
        sn >>= 1;
      }
      expect(sn).toBe(0);
      expect(r.toString('base64')).toBe(rootLine);
    }
    // The checkpoint signature: Ed25519 over the note text, key from the vkey (type byte 0x01, then 32 bytes).
    const body = bundle.checkpoint.slice(0, bundle.checkpoint.indexOf('\n\n') + 1);
    const sigLine = bundle.checkpoint.split('\n').find((l: string) => l.startsWith(`— ${origin} `));
    const sig = Buffer.from(sigLine.split(' ')[2], 'base64');
    const raw = Buffer.from(bundle.logKey.split('+')[2], 'base64');
    expect(raw[0]).toBe(1);
    const keyId = sha256(Buffer.from(origin + '\n'), raw).subarray(0, 4);
    expect(sig.subarray(0, 4)).toEqual(keyId);
    const pub = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw.subarray(1)]),
      format: 'der',
      type: 'spki'
    });
    expect(verify(null, Buffer.from(body), pub, sig.subarray(4))).toBe(true);
    // The cosignature: Ed25519 over "cosignature/v1\ntime <t>\n" || note text, after an 8-byte timestamp.
    const wk = Buffer.from(bundle.witnessKeys[0].split('+')[2], 'base64');
    const wLine = bundle.checkpoint.split('\n').find((l: string) => l.startsWith('— provenance-ledger-witness/'));
    const wsig = Buffer.from(wLine.split(' ')[2], 'base64');
    const t = wsig.readBigUInt64BE(4);
    expect(Number(t)).toBe(mid.witnessTime);
    const wpub = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), wk.subarray(1)]),
      format: 'der',
      type: 'spki'
    });
    expect(
      verify(
        null,
        Buffer.concat([Buffer.from(`cosignature/v1\ntime ${t}\n`), Buffer.from(body)]),
        wpub,
        wsig.subarray(12)
      )
    ).toBe(true);
  });
});
