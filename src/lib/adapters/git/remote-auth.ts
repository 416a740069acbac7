/**
 * Remotes: their local names, credentials (asked through the binding, never stored), and transport failures
 * mapped to stable codes.
 */
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { sha256Hex } from '../../core/hash.ts';
import { utf8 } from '../../core/bytes.ts';
import type { GitBinding } from './binding.ts';

/** The local name under refs/remotes/ for a URL (credentials in it are left out). */
export async function remoteName(url: string): Promise<string> {
  const clean = url.replace(/\/\/[^@/]*@/, '//');
  return `r-${(await sha256Hex(utf8(clean))).slice(0, 12)}`;
}

export function auth(binding: GitBinding, url: string) {
  let tries = 0;
  return {
    onAuth: async () => {
      const c = await binding.credentials?.(url);
      return c ?? { cancel: true };
    },
    onAuthFailure: () => {
      tries++;
      return { cancel: true };
    },
    get failed() {
      return tries > 0;
    }
  };
}

/** A property of a thrown value, which may be anything (undefined for null and undefined, like `e?.[key]`). */
const prop = (e: unknown, key: string): unknown => (e == null ? undefined : (e as Record<string, unknown>)[key]);

/** Maps transport failures to stable codes with a message naming the remote. */
export function remoteError(e: unknown, url: string, authFailed: boolean): LedgerError {
  if (e instanceof LedgerError) return e;
  const code = prop(e, 'code') ?? prop(e, 'name');
  const status = prop(prop(e, 'data'), 'statusCode');
  const message = prop(e, 'message');
  if (authFailed || status === 401 || status === 403 || code === 'UserCanceledError') {
    return new LedgerError(
      ErrorCode.REMOTE_AUTH,
      `${url} refused the credentials (set PROVENANCE_LEDGER_GIT_USERNAME and _PASSWORD, or _TOKEN)`,
      { cause: e }
    );
  }
  if (code === 'HttpError' || code === 'SmartHttpError') {
    return new LedgerError(
      ErrorCode.REMOTE_UNREACHABLE,
      `${url} did not answer as a Git smart-HTTP remote: ${message}`,
      { cause: e }
    );
  }
  if (
    (typeof code === 'string' &&
      ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(code)) ||
    /fetch failed|ECONN|ENOTFOUND/.test(String(message))
  ) {
    return new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `cannot reach ${url}: ${message}`, { cause: e });
  }
  return new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `the exchange with ${url} failed: ${message ?? e}`, {
    cause: e
  });
}
