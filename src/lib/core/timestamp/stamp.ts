/**
 * Time-stamping this device's checkpoints: for the newest stored checkpoint (with the TSAs given) and for every
 * pending request (with the TSAs it names), a token is asked of each TSA that has none for that size yet. Each
 * token is checked before it is kept: its message imprint must be SHA-256 of that checkpoint's signed text (the
 * "<origin>\n<size>\n<base64 root>\n" lines of the note). Every failure is queued as a pending request and
 * reported in the result: nothing fails silently, and a TSA that cannot be reached is asked once per run.
 */
import { fromBase64, toBase64 } from '../bytes.ts';
import { parseCheckpoint } from '../merkle/checkpoint.ts';
import { parseNote } from '../merkle/note.ts';
import type { DeviceLog } from '../proofs/log.ts';
import { ProofCode, ProofError } from '../proofs/errors.ts';
import { requestTimestamp } from './client.ts';
import { TimestampError } from './errors.ts';
import { checkpointImprint } from './request.ts';
import { checkTsaList, normalizeTsaUrl, type TimestampStore, type TokenEntry } from './store.ts';
import { verifyTimestampToken } from './verify.ts';

export interface StampResult {
  /** The TSA's URL ('' for a damaged pending-request file, which names no TSA one can trust). */
  tsa: string;
  /** The checkpoint size. */
  size: number;
  ok: boolean;
  /** The token was already held (nothing was asked). */
  held?: boolean;
  /** The token's genTime (ISO 8601), when ok. */
  genTime?: string;
  /** The TSA's name from the token (its tsa field or its signer's subject), when ok and it carries one. */
  tsaName?: string;
  code?: string;
  /** One line: why it failed, and that it was queued. */
  error?: string;
  /** The storage key of a damaged file that stood in the way. */
  key?: string;
}

export interface TimestampCheckpointOptions {
  log: DeviceLog;
  store: TimestampStore;
  /** TSAs for the newest checkpoint (none: only the pending requests are tried). */
  tsas: readonly string[];
  via?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** The signed text of this log's checkpoint of `size` (NO_CHECKPOINT, or CHECKPOINT_INVALID when damaged). */
export async function checkpointText(log: DeviceLog, size: number): Promise<string> {
  const note = await log.checkpointNote(size);
  if (note === undefined)
    throw new ProofError(ProofCode.NO_CHECKPOINT, `this device's log has no checkpoint of size ${size}`);
  let text: string;
  try {
    text = parseNote(note).text;
    if (parseCheckpoint(text).size !== size)
      throw new Error(`it is the checkpoint of size ${parseCheckpoint(text).size}`);
  } catch (e) {
    throw new ProofError(
      ProofCode.CHECKPOINT_INVALID,
      `the stored checkpoint of size ${size} is damaged: ${(e as Error).message}`,
      { cause: e }
    );
  }
  return text;
}

/**
 * What a held or new token says, once checked: its imprint is this checkpoint's, its signature verifies with the
 * certificate it carries, which may sign time-stamps. Whether that TSA is trusted is the verifier's question.
 */
async function readToken(token: Uint8Array, imprint: Uint8Array): Promise<{ genTime: string; tsaName?: string }> {
  const v = await verifyTimestampToken(token, imprint, []);
  if (v.status === 'invalid') {
    throw new TimestampError(
      v.code === 'TSA_IMPRINT_MISMATCH' ? 'TSA_IMPRINT_MISMATCH' : 'TSA_RESPONSE_MALFORMED',
      `the token is not a valid time-stamp of this checkpoint (${v.code}): ${v.reason}`
    );
  }
  return { genTime: v.info.genTime, ...(v.info.tsa ? { tsaName: v.info.tsa } : {}) };
}

const codeOf = (e: unknown) => (e as { code?: string })?.code ?? 'INTERNAL';
const messageOf = (e: unknown) => ((e as Error)?.message ?? String(e)).split('\n')[0];
/** The storage key a STORAGE_CORRUPT error names (TimestampStore puts it in its detail). */
const keyOf = (e: unknown) => {
  const key = (e as { detail?: { key?: unknown } })?.detail?.key;
  return typeof key === 'string' ? { key } : {};
};

export async function timestampCheckpoint(opts: TimestampCheckpointOptions): Promise<StampResult[]> {
  const { log, store } = opts;
  const results: StampResult[] = [];
  const wanted = new Map<number, Set<string>>();
  const want = (size: number, tsa: string) => (wanted.get(size) ?? wanted.set(size, new Set()).get(size)!).add(tsa);

  const newest = (await log.checkpointSizes()).at(-1);
  const given = checkTsaList(opts.tsas);
  if (newest !== undefined) for (const t of given) want(newest, t);
  for (const size of await store.pendingSizes()) {
    try {
      for (const t of (await store.pendingAt(size))!.tsas) want(size, t);
    } catch (e) {
      results.push({ tsa: '', size, ok: false, code: codeOf(e), error: messageOf(e), ...keyOf(e) });
    }
  }

  /** TSAs that could not be reached in this run: not asked again until the next. */
  const down = new Map<string, TimestampError>();
  const fail = async (size: number, tsa: string, e: unknown) => {
    let error = messageOf(e);
    try {
      await store.markPending(size, tsa, `${codeOf(e)}: ${error}`);
    } catch (q) {
      error += `; and it could not be queued: ${messageOf(q)}`;
    }
    results.push({ tsa, size, ok: false, code: codeOf(e), error, ...keyOf(e) });
  };

  for (const [size, set] of [...wanted].sort((a, b) => a[0] - b[0])) {
    let imprint: Uint8Array;
    let have: TokenEntry[];
    try {
      imprint = await checkpointImprint(await checkpointText(log, size));
      have = await store.tokens(size);
    } catch (e) {
      for (const tsa of set) await fail(size, tsa, e);
      continue;
    }
    // The TSAs are asked at once; what they give is kept one at a time (the files are read, then written).
    const outcomes = await Promise.all(
      [...set].map(async (tsa) => {
        const held = have.find((h) => h.tsa === tsa);
        if (held) return { tsa, held };
        try {
          const prior = down.get(tsa);
          if (prior) throw prior;
          const token = await requestTimestamp(tsa, imprint, {
            fetch: opts.fetch,
            timeoutMs: opts.timeoutMs,
            via: opts.via
          }).catch((e) => {
            if (e instanceof TimestampError && e.code === 'TSA_UNREACHABLE') down.set(tsa, e);
            throw e;
          });
          return { tsa, token, info: await readToken(token, imprint) };
        } catch (error) {
          return { tsa, error };
        }
      })
    );
    for (const o of outcomes) {
      try {
        if ('error' in o) throw o.error;
        if (o.held) {
          await store.clearPending(size, o.tsa);
          if (size === newest && given.includes(o.tsa))
            results.push({
              tsa: o.tsa,
              size,
              ok: true,
              held: true,
              ...(await readToken(fromBase64(o.held.token), imprint))
            });
          continue;
        }
        await store.addToken(size, {
          token: toBase64(o.token!),
          tsa: o.tsa,
          ...(opts.via ? { via: normalizeTsaUrl(opts.via, 'relay URL') } : {}),
          received: new Date().toISOString()
        });
        await store.clearPending(size, o.tsa);
        results.push({ tsa: o.tsa, size, ok: true, ...o.info! });
      } catch (e) {
        await fail(size, o.tsa, e);
      }
    }
  }
  return results.sort((a, b) => a.size - b.size || (a.tsa < b.tsa ? -1 : a.tsa > b.tsa ? 1 : 0));
}
