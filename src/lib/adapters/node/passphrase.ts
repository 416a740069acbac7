/**
 * Passphrases for key backups: from the environment (scripts, CI) or typed at a terminal without echo.
 * Never from a command-line argument, which other users of the machine can read in the process list.
 */
import { ErrorCode, LedgerError } from '../../core/errors.ts';

export const PASSPHRASE_ENV = 'PROVENANCE_LEDGER_PASSPHRASE';

/**
 * The passphrase: $PROVENANCE_LEDGER_PASSPHRASE if set, else asked on the terminal (twice when `confirm`).
 * Throws BAD_INPUT when neither is possible (no variable, stdin not a terminal).
 */
export async function getPassphrase(question: string, confirm = false): Promise<string> {
  const fromEnv = process.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `no passphrase: set ${PASSPHRASE_ENV} or run this command in a terminal`
    );
  }
  const first = await readHidden(question);
  if (confirm) {
    const again = await readHidden('Repeat the passphrase: ');
    if (again !== first) throw new LedgerError(ErrorCode.BAD_INPUT, 'the two passphrases differ');
  }
  return first;
}

/** Reads one line from the terminal in raw mode, echoing nothing. Ctrl-C aborts. */
export function readHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new LedgerError(ErrorCode.BAD_INPUT, 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
