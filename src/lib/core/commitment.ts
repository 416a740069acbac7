/**
 * Prompt commitments (ledger-schema/README.md, "Prompt commitment"):
 * commitment = lowercase-hex(SHA-256(salt || UTF-8(prompt))), salt = 32 random bytes.
 * The ledger holds only the commitment; the opening (prompt + salt) stays in the device's vault.
 */
import { bytesEqual, concatBytes, fromBase64url, fromHex, toBase64url, utf8 } from './bytes.ts';
import { sha256 } from './hash.ts';
import { ErrorCode, LedgerError } from './errors.ts';

export const COMMITMENT_ALG = 'sha256-salt32-utf8-v1';

export interface PromptCommitment {
  alg: typeof COMMITMENT_ALG;
  commitment: string;
}

export interface Opening {
  alg: typeof COMMITMENT_ALG;
  commitment: string;
  salt: string;
  prompt: string;
}

export async function computeCommitment(salt: Uint8Array, prompt: string): Promise<string> {
  if (salt.length !== 32) throw new LedgerError(ErrorCode.BAD_INPUT, 'the salt must be 32 bytes');
  const digest = await sha256(concatBytes(salt, utf8(prompt)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function commitPrompt(
  prompt: string,
  random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n))
): Promise<{ commitment: PromptCommitment; opening: Opening }> {
  if (typeof prompt !== 'string' || prompt.length === 0) {
    throw new LedgerError(ErrorCode.BAD_INPUT, 'the prompt is empty');
  }
  if (!prompt.isWellFormed()) throw new LedgerError(ErrorCode.BAD_INPUT, 'the prompt is not valid Unicode text');
  const salt = random(32);
  const commitment = await computeCommitment(salt, prompt);
  return {
    commitment: { alg: COMMITMENT_ALG, commitment },
    opening: { alg: COMMITMENT_ALG, commitment, salt: toBase64url(salt), prompt }
  };
}

/** Checks an opening (attacker-controlled) against the commitment an event holds: recompute, then compare. */
export async function verifyOpening(opening: unknown, expected: string): Promise<void> {
  const o = opening as Partial<Opening> | null;
  if (typeof o !== 'object' || o === null) throw new LedgerError(ErrorCode.BAD_OPENING, 'the opening is not an object');
  if (o.alg !== COMMITMENT_ALG)
    throw new LedgerError(ErrorCode.BAD_OPENING, `unknown commitment algorithm ${JSON.stringify(o.alg)}`);
  if (typeof o.prompt !== 'string' || !o.prompt.isWellFormed()) {
    throw new LedgerError(ErrorCode.BAD_OPENING, 'the opening has no valid prompt text');
  }
  let salt: Uint8Array;
  try {
    salt = fromBase64url(String(o.salt));
  } catch {
    throw new LedgerError(ErrorCode.BAD_OPENING, 'the opening salt is not base64url');
  }
  if (salt.length !== 32) throw new LedgerError(ErrorCode.BAD_OPENING, 'the opening salt is not 32 bytes');
  const got = await computeCommitment(salt, o.prompt);
  if (!/^[0-9a-f]{64}$/.test(expected) || !bytesEqual(fromHex(got), fromHex(expected))) {
    throw new LedgerError(
      ErrorCode.BAD_OPENING,
      `the prompt and salt hash to ${got}, not to the committed ${expected}`
    );
  }
}
