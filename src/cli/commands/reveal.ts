/** reveal: the prompt behind a generation's commitment, from this device's vault, checked against the ledger. */
import { PromptVault } from '../../lib/core/vault.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import type { GenerationBody } from '../../lib/core/types.ts';
import { openSession, resolveEvent, type GlobalOptions } from '../context.ts';
import type { Output } from '../output.ts';

export async function reveal(ref: string, opts: GlobalOptions, out: Output): Promise<void> {
  const { ledger, storage } = await openSession(opts);
  const ev = resolveEvent(ledger, ref, 'generation');
  const body = ev.event.body as GenerationBody;
  if (!body.prompt)
    throw new LedgerError(ErrorCode.NOT_FOUND, `generation ${ev.id.slice(0, 12)} has no prompt commitment`);
  const vault = new PromptVault(storage);
  const opening = await vault.get(body.prompt.commitment);
  if (!opening) {
    throw new LedgerError(
      ErrorCode.VAULT_MISSING,
      `this device has no opening for the prompt of generation ${ev.id.slice(0, 12)} (commitment ${body.prompt.commitment}): it was recorded elsewhere, or its vault was lost`
    );
  }
  const negative = body.negativePrompt ? await vault.get(body.negativePrompt.commitment) : undefined;
  out.result(
    {
      event: ev.id,
      alg: opening.alg,
      // The commitment the event holds; vault.get gave the opening only once salt and prompt recompute it.
      commitment: body.prompt.commitment,
      salt: opening.salt,
      prompt: opening.prompt,
      ...(negative
        ? {
            negativePrompt: {
              commitment: body.negativePrompt!.commitment,
              salt: negative.salt,
              prompt: negative.prompt
            }
          }
        : {}),
      verified: true
    },
    (say) => {
      say(`prompt of generation ${ev.id}`);
      say(`  commitment  ${body.prompt!.commitment} (${opening.alg}, checked: SHA-256(salt || prompt) matches)`);
      say(`  salt        ${opening.salt}`);
      say('  prompt:');
      for (const l of opening.prompt.split('\n')) say(`    ${l}`);
      if (negative) say(`  negative prompt: ${negative.prompt}`);
    }
  );
}
