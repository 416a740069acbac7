import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { commitPrompt, verifyOpening } from '../../../src/lib/core/commitment.ts';
import { fromBase64url } from '../../../src/lib/core/bytes.ts';
import { PromptVault } from '../../../src/lib/core/vault.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';

describe('prompt commitments', () => {
  it('is SHA-256(salt || UTF-8(prompt)), checked independently with node:crypto', async () => {
    const { commitment, opening } = await commitPrompt('a small brass robot, low poly — ü');
    const expected = createHash('sha256')
      .update(Buffer.from(fromBase64url(opening.salt)))
      .update(Buffer.from(opening.prompt, 'utf8'))
      .digest('hex');
    expect(commitment.commitment).toBe(expected);
    expect(fromBase64url(opening.salt)).toHaveLength(32);
    await verifyOpening(opening, commitment.commitment);
  });

  it('rejects any opening that does not match', async () => {
    const { commitment, opening } = await commitPrompt('robot');
    await expect(verifyOpening({ ...opening, prompt: 'robot ' }, commitment.commitment)).rejects.toThrow(
      /not to the committed/
    );
    const other = await commitPrompt('robot');
    expect(other.commitment.commitment).not.toBe(commitment.commitment);
    await expect(verifyOpening({ ...opening, salt: other.opening.salt }, commitment.commitment)).rejects.toMatchObject({
      code: 'OPENING_MISMATCH'
    });
    await expect(verifyOpening({ ...opening, alg: 'md5' }, commitment.commitment)).rejects.toThrow(/algorithm/);
    await expect(verifyOpening(null, commitment.commitment)).rejects.toThrow(/not an object/);
  });

  it('opens every prompt it commits to (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, unit: 'grapheme' }), async (p) => {
        const { commitment, opening } = await commitPrompt(p);
        await verifyOpening(opening, commitment.commitment);
      }),
      { numRuns: 50 }
    );
  });

  it('keeps openings in the local vault, keyed by commitment', async () => {
    const vault = new PromptVault(new MemoryStorage());
    const { commitment, opening } = await commitPrompt('secret prompt');
    await vault.put(opening);
    expect(await vault.get(commitment.commitment)).toEqual(opening);
    expect(await vault.get('0'.repeat(64))).toBeUndefined();
  });
});
