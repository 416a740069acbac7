/**
 * RFC 3161 time-stamps of this device's checkpoints (core/timestamp): the TSA setting and what is held.
 *
 *   tsa add URL | tsa remove URL | tsa list     the TSAs this ledger directory uses; tokens held per checkpoint
 *                                               size; pending requests with their last error
 *
 * checkpoint (--tsa URL… or the configured TSAs), sync and prove time-stamp the newest checkpoint through
 * stampLog below, and retry the pending requests. Only the checkpoint text's SHA-256 (32 bytes) and a random
 * nonce leave the device.
 */
import { fromBase64 } from '../../lib/core/bytes.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import { Ledger } from '../../lib/core/ledger.ts';
import { DeviceLog } from '../../lib/core/proofs/log.ts';
import type { StorageAdapter } from '../../lib/core/storage.ts';
import { checkpointImprint } from '../../lib/core/timestamp/request.ts';
import { checkpointText, timestampCheckpoint, type StampResult } from '../../lib/core/timestamp/stamp.ts';
import {
  checkTsaList,
  normalizeTsaUrl,
  TimestampStore,
  type PendingRequest,
  type StoreProblem
} from '../../lib/core/timestamp/store.ts';
import { verifyTimestampToken } from '../../lib/core/timestamp/verify.ts';
import { existingStorage, ledgerDir, type GlobalOptions } from '../context.ts';
import { Exit, type ExitCode, type Output } from '../output.ts';

/** Checks --tsa values before anything is signed or sent (BAD_INPUT, exit 2, nothing changed). */
export const checkTsaOption = (urls: readonly string[] | undefined): string[] | undefined =>
  urls?.length ? checkTsaList(urls) : undefined;

/**
 * Time-stamps the log's newest checkpoint with `given` TSAs, else the configured ones, and retries the pending
 * requests. Undefined when there is nothing to do (no TSA given or configured, nothing pending): then nothing is
 * contacted. A damaged setting is reported as a failed result, never thrown.
 */
export async function stampLog(
  storage: StorageAdapter,
  log: DeviceLog,
  given?: string[]
): Promise<StampResult[] | undefined> {
  const store = new TimestampStore(storage);
  const early: StampResult[] = [];
  let tsas = given ?? [];
  if (!given) {
    try {
      tsas = await store.tsas();
    } catch (e) {
      early.push({
        tsa: '',
        size: log.size,
        ok: false,
        code: (e as LedgerError).code,
        error: (e as Error).message,
        key: 'settings/tsa'
      });
    }
  }
  if (tsas.length === 0 && (await store.pendingSizes()).length === 0) return early.length ? early : undefined;
  return [...early, ...(await timestampCheckpoint({ log, store, tsas }))];
}

/** One line per result, for people. */
export function describeStamp(r: StampResult, newest: number): string {
  const of = r.size === newest ? '' : ` (checkpoint of size ${r.size})`;
  if (r.ok) return `${r.held ? 'already time-stamped' : 'time-stamped'} by ${r.tsaName || r.tsa}${of}: ${r.genTime}`;
  if (!r.tsa) return `time-stamping${of}: ${r.error}`;
  return `time-stamp from ${r.tsa}${of} failed: ${r.error}; queued, it is requested again at the next checkpoint, sync or prove`;
}

// ------------------------------------------------------------------------------------------------ tsa commands

async function openStore(opts: GlobalOptions): Promise<{ storage: StorageAdapter; store: TimestampStore }> {
  const dir = ledgerDir(opts);
  const storage = await existingStorage(dir);
  if (!(await Ledger.exists(storage)))
    throw new LedgerError(ErrorCode.NOT_INITIALIZED, `no ledger in ${dir} (create one with provenance-ledger init)`);
  return { storage, store: new TimestampStore(storage) };
}

export async function tsaAdd(url: string, opts: GlobalOptions, out: Output): Promise<void> {
  const tsa = normalizeTsaUrl(url);
  const { store } = await openStore(opts);
  const have = await store.tsas();
  const added = !have.includes(tsa);
  const list = added ? await store.setTsas([...have, tsa]) : have;
  out.result({ added, tsa, tsas: list }, (say) => {
    say(
      added
        ? `Added ${tsa}: checkpoint, sync and prove time-stamp this device's newest checkpoint with it.`
        : `${tsa} is already configured.`
    );
    say('Only the SHA-256 of each checkpoint text (32 bytes) is sent to it.');
  });
}

export async function tsaRemove(url: string, opts: GlobalOptions, out: Output): Promise<void> {
  const tsa = normalizeTsaUrl(url);
  const { store } = await openStore(opts);
  const have = await store.tsas();
  const sizes: number[] = [];
  for (const size of await store.pendingSizes()) {
    const p = await store.pendingAt(size).catch(() => undefined); // a damaged file is left as it is (tsa list names it)
    if (p?.tsas.includes(tsa)) sizes.push(size);
  }
  if (!have.includes(tsa) && sizes.length === 0) {
    throw new LedgerError(
      ErrorCode.NOT_FOUND,
      `${tsa} is not a configured TSA and has no pending request${have.length ? ` (configured: ${have.join(', ')})` : ''}`
    );
  }
  if (have.includes(tsa)) await store.setTsas(have.filter((u) => u !== tsa));
  for (const size of sizes) await store.clearPending(size, tsa);
  out.result({ removed: tsa, tsas: have.filter((u) => u !== tsa), droppedPending: sizes }, (say) => {
    say(
      `Removed ${tsa}${sizes.length ? `, and its pending request${sizes.length === 1 ? '' : 's'} (checkpoint size ${sizes.join(', ')})` : ''}. Tokens it gave are kept.`
    );
  });
}

/** The configured TSAs, the tokens held (each read and checked against its checkpoint), pending requests. Exit 1 on a damaged file. */
export async function tsaList(opts: GlobalOptions, out: Output): Promise<ExitCode> {
  const { storage, store } = await openStore(opts);
  const problems: StoreProblem[] = await store.problems();
  const damaged = new Set(problems.map((p) => p.key));
  const tsas = damaged.has('settings/tsa') ? [] : await store.tsas();
  const log = await DeviceLog.load(storage).catch(() => undefined);
  const tokens: Array<{
    size: number;
    tsa: string;
    via?: string;
    received: string;
    genTime?: string;
    tsaName?: string;
  }> = [];
  for (const size of await store.sizes()) {
    const key = `log/timestamps/${String(size).padStart(16, '0')}`;
    if (damaged.has(key)) continue;
    let imprint: Uint8Array | undefined;
    try {
      imprint = log && (await checkpointImprint(await checkpointText(log, size)));
    } catch (e) {
      problems.push({
        code: (e as { code?: string }).code ?? 'NO_CHECKPOINT',
        key,
        message: `${key}: tokens for a checkpoint this device cannot read: ${(e as Error).message}`
      });
    }
    for (const t of await store.tokens(size)) {
      const v = imprint && (await verifyTimestampToken(fromBase64(t.token), imprint, []));
      if (v?.status === 'invalid')
        problems.push({
          code: v.code,
          key,
          message: `${key}: the token from ${t.tsa} is not a valid time-stamp of this device's checkpoint of size ${size}: ${v.reason}`
        });
      const info = v && v.status !== 'invalid' ? v.info : undefined;
      tokens.push({
        size,
        tsa: t.tsa,
        ...(t.via ? { via: t.via } : {}),
        received: t.received,
        ...(info ? { genTime: info.genTime, ...(info.tsa ? { tsaName: info.tsa } : {}) } : {})
      });
    }
  }
  const pending: PendingRequest[] = [];
  for (const size of await store.pendingSizes()) {
    if (!damaged.has(`log/timestamps-pending/${String(size).padStart(16, '0')}`))
      pending.push((await store.pendingAt(size))!);
  }
  out.result({ tsas, tokens, pending, problems }, (say) => {
    say(
      tsas.length
        ? `Configured TSAs (${tsas.length}):`
        : 'No TSA configured: checkpoints are time-stamped only with checkpoint --tsa URL (add one with provenance-ledger tsa add URL).'
    );
    for (const t of tsas) say(`  ${t}`);
    if (tokens.length) say(`Tokens held (${tokens.length}):`);
    for (const t of tokens)
      say(
        `  checkpoint ${t.size}: ${t.tsa}${t.tsaName ? ` (${t.tsaName})` : ''}${t.genTime ? ` at ${t.genTime}` : ''}; received ${t.received}${t.via ? ` via ${t.via}` : ''}`
      );
    if (pending.length) say(`Pending requests (${pending.length}), tried again at the next checkpoint, sync or prove:`);
    for (const p of pending)
      say(
        `  checkpoint ${p.size}: ${p.tsas.join(', ')}; ${p.attempts} attempt${p.attempts === 1 ? '' : 's'}, last ${p.lastTry}: ${p.lastError}`
      );
    for (const p of problems) say(`problem [${p.code}] ${p.message}`);
  });
  return problems.length ? Exit.PROBLEMS : Exit.OK;
}
