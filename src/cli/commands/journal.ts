/**
 * push, pull, clone, allowed-signers, journal status, journal repair: the ledger's Git journal
 * (DIR/journal.git) and its remotes.
 * Credentials come from PROVENANCE_LEDGER_GIT_USERNAME / _PASSWORD or _TOKEN, or a prompt on a terminal;
 * they are never written to disk.
 */
import { lstat, open, rm, stat, unlink } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import path from 'node:path';
import { FsStorage } from '../../lib/adapters/storage/fs.ts';
import { GitJournal } from '../../lib/adapters/git/journal.ts';
import { nodeBinding } from '../../lib/adapters/git/node.ts';
import type { Credentials } from '../../lib/adapters/git/binding.ts';
import {
  clone as cloneRemote,
  pull as pullRemote,
  push as pushRemote,
  pushSealed,
  sealedFetch
} from '../../lib/adapters/git/remote.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import { Ledger } from '../../lib/core/ledger.ts';
import { allowedSigners as signersFile, removedUntil } from '../../lib/core/journal/allowed-signers.ts';
import { identitySigner, loadIdentity } from '../../lib/adapters/node/identity.ts';
import { CLONE_MARK, LEDGER_FOLDERS, ledgerDir, openSession, type GlobalOptions } from '../context.ts';
import { Exit, type ExitCode, type Output } from '../output.ts';

async function prompt(url: string): Promise<Credentials | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const username = await rl.question(`username for ${url}: `);
    const password = await rl.question(`password or token for ${url}: `);
    return { username, password };
  } finally {
    rl.close();
  }
}

async function journalOf(opts: GlobalOptions) {
  // The journal is rebuilt from the document (events and their stored commit signatures): no key needed.
  const session = await openSession(opts, { write: false });
  const journal = await GitJournal.attach(nodeBinding(session.dir, prompt), session.ledger);
  return { session, journal };
}

/**
 * The archive keys of the team key epochs held in DIR (they seal and open the sealed journal). With `create`, the
 * owner of a ledger that has no team key yet makes epoch 1 (as its first sync would).
 */
async function archiveKeysOf(session: Awaited<ReturnType<typeof openSession>>, create = false) {
  const { loadTeamKeys, ensureTeamKey } = await import('../../lib/core/team/teamkey.ts');
  const { archiveKeys } = await import('../../lib/core/journal/sealed.ts');
  if (create && session.identity && session.ledger.member(session.identity.publicKey)?.role === 'owner')
    await ensureTeamKey(session.storage, true);
  return archiveKeys(await loadTeamKeys(session.storage));
}

export async function journalPush(opts: GlobalOptions & { plain?: boolean }, out: Output, url: string): Promise<void> {
  const { session, journal } = await journalOf(opts);
  // Nothing is sent while the device log disagrees with the document (it may hold an event the document lost).
  const { assertStoredLogMatches } = await import('../../lib/core/proofs/log-check.ts');
  await assertStoredLogMatches(session.storage, session.ledger);
  let r: { main?: string; concurrent: string[]; received: number; sent: number };
  if (opts.plain) r = await pushRemote(journal, url);
  else {
    const keys = await archiveKeysOf(session, true);
    if (!keys.length) {
      throw new LedgerError(
        ErrorCode.SEALED_KEY_MISSING,
        `this device holds no team key to seal the journal with: sync with your team first (or push --plain for a readable journal)`
      );
    }
    r = await pushSealed(journal, url, keys);
  }
  const sealed = !opts.plain;
  out.result(
    {
      url,
      sealed,
      main: r.main ?? null,
      concurrent: r.concurrent,
      received: r.received,
      commits: journal.size,
      newCommits: r.sent
    },
    (say) => {
      say(
        `pushed ${r.sent} new commit${r.sent === 1 ? '' : 's'} to ${url}${sealed ? ', sealed' : ', readable'} (main ${r.main?.slice(0, 12)}, the journal holds ${journal.size})${r.received ? `, after pulling ${r.received} new events` : ''}`
      );
      if (!sealed) say('  readable journal: the Git host can read every event (project, file and member names)');
      if (r.concurrent.length)
        say(`  ${r.concurrent.length} concurrent head(s) pushed as refs/heads/concurrent/*; the next event joins them`);
    }
  );
}

export async function journalPull(opts: GlobalOptions, out: Output, url: string): Promise<void> {
  const { session, journal } = await journalOf(opts);
  // A remote last seen readable is pulled as one; any other is opened with the team keys when it is sealed.
  const known = (await journal.status()).remotes?.find((x) => x.url === url.replace(/\/\/[^@/]*@/, '//'));
  const keys = known && !known.sealed ? [] : await archiveKeysOf(session);
  const r = await pullRemote(journal, url, keys.length ? await sealedFetch(journal, keys) : undefined);
  out.result({ url, sealed: r.kind === 'sealed', received: r.received, events: journal.ledger.size }, (say) =>
    say(
      `pulled ${r.received} new events from ${url}${r.kind === 'sealed' ? ' (sealed)' : ''}; the ledger holds ${journal.ledger.size}`
    )
  );
}

export async function journalClone(
  opts: GlobalOptions & { keyBackup?: string },
  out: Output,
  url: string
): Promise<void> {
  const dir = ledgerDir(opts);
  const batch = cloneBatch();
  // The key backup is opened before anything is written: a wrong passphrase leaves no directory behind.
  const restored = opts.keyBackup ? await openKeyBackup(opts.keyBackup) : undefined;
  const existed = await stat(dir).then(
    () => true,
    () => false
  );
  const mark = path.join(dir, CLONE_MARK);
  const restart =
    existed &&
    (await lstat(mark).then(
      () => true,
      () => false
    ));
  const storage = await FsStorage.open(dir, { sweep: LEDGER_FOLDERS });
  /** What a clone writes besides the device and team keys: removed when it fails, or before it starts over. */
  const removeCloned = async () => {
    await storage.removeRange(['doc']);
    await rm(path.join(dir, 'journal.git'), { recursive: true, force: true });
    await rm(path.join(dir, 'journal-commits'), { recursive: true, force: true });
  };
  if (restart) await removeCloned();
  else if (await Ledger.exists(storage))
    throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, 'a ledger already exists here: clone into an empty directory');
  // Written first, removed last: a directory the clone was cut short in is not taken for a ledger (context.ts).
  const handle = await open(mark, 'w');
  try {
    await handle.writeFile(`${url.replace(/\/\/[^@/]*@/, '//')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    const { loadTeamKeys, saveTeamKey } = await import('../../lib/core/team/teamkey.ts');
    if (restored) {
      const { saveIdentity } = await import('../../lib/adapters/node/identity.ts');
      const existing = await loadIdentity(storage);
      if (existing && existing.publicKey !== restored.publicKey) {
        throw new LedgerError(
          ErrorCode.KEY_MISMATCH,
          `${dir} already has another device key (${existing.publicKey.slice(0, 12)}…) than the backup's`
        );
      }
      if (!existing) await saveIdentity(storage, restored, restored.name);
      const held = new Set((await loadTeamKeys(storage)).map((k) => k.epoch));
      for (const k of restored.teamKeys) if (!held.has(k.epoch)) await saveTeamKey(storage, k);
    }
    const identity = await loadIdentity(storage);
    const { archiveKeys } = await import('../../lib/core/journal/sealed.ts');
    const keys = await archiveKeys(await loadTeamKeys(storage));
    const journal = await cloneRemote(
      nodeBinding(dir, prompt),
      url,
      storage,
      identity ? identitySigner(identity) : undefined,
      keys,
      { batch }
    );
    await unlink(mark);
    out.result(
      {
        url,
        dir: path.resolve(dir),
        ledger: { id: journal.ledger.id, name: journal.ledger.name },
        events: journal.ledger.size
      },
      (say) => {
        say(
          `cloned ledger "${journal.ledger.name}" (${journal.ledger.size} events, all verified) into ${path.resolve(dir)}`
        );
        if (!identity)
          say('  this directory has no device key: import yours (key import) or init one and ask an admin to add it');
      }
    );
  } catch (e) {
    if (!existed) await rm(dir, { recursive: true, force: true });
    else {
      await removeCloned().catch(() => undefined);
      await rm(mark, { force: true });
    }
    if ((e as LedgerError).code === ErrorCode.SEALED_KEY_MISSING && !opts.keyBackup && process.stdin.isTTY) {
      // On a terminal: ask for the key backup, then clone again with it.
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const file = (
        await rl
          .question(`${url} holds a sealed journal. Key backup file (device key and team keys), or empty to stop: `)
          .finally(() => rl.close())
      ).trim();
      if (file) return journalClone({ ...opts, keyBackup: file }, out, url);
    }
    if ((e as LedgerError).code === ErrorCode.SEALED_KEY_MISSING && !opts.keyBackup) {
      throw new LedgerError(
        ErrorCode.SEALED_KEY_MISSING,
        `${(e as Error).message}. Give your key backup: clone ${url} --ledger ${dir} --key-backup FILE`,
        { cause: e }
      );
    }
    throw e;
  }
}

/** Events per stored batch of a clone: $PROVENANCE_LEDGER_CLONE_BATCH (a positive integer), else the default. */
export const CLONE_BATCH_ENV = 'PROVENANCE_LEDGER_CLONE_BATCH';
function cloneBatch(): number | undefined {
  const raw = process.env[CLONE_BATCH_ENV];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(raw))
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `${CLONE_BATCH_ENV} must be a positive integer, not ${JSON.stringify(raw)}`
    );
  return Number(raw);
}

/** Decrypts a key backup file (passphrase from the environment or typed), or says what is wrong with it. */
async function openKeyBackup(file: string) {
  const { readFile } = await import('node:fs/promises');
  const { assertReadableFile, nativePath } = await import('../../lib/adapters/node/files.ts');
  const { getPassphrase } = await import('../../lib/adapters/node/passphrase.ts');
  const { decryptKeyBackup } = await import('../../lib/core/backup.ts');
  await assertReadableFile(file, 'key backup file');
  let backup: unknown;
  try {
    backup = JSON.parse(await readFile(nativePath(file), 'utf8'));
  } catch (e) {
    throw new LedgerError(ErrorCode.BAD_BACKUP, `key backup file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return decryptKeyBackup(backup, await getPassphrase('Passphrase of the key backup: '), true);
}

export async function journalAllowedSigners(opts: GlobalOptions & { sealed?: boolean }, out: Output): Promise<void> {
  const session = await openSession(opts, { write: false });
  if (opts.sealed) {
    const { sealedAllowedSigners } = await import('../../lib/core/journal/sealed.ts');
    const text = sealedAllowedSigners(await archiveKeysOf(session));
    out.result({ allowedSigners: text }, (say) => say(text.trimEnd()));
    return;
  }
  const { ledger } = session;
  const roster = ledger.roster();
  const text = signersFile(
    roster,
    ledger.name,
    removedUntil(roster, ledger.events(), (id) => ledger.get(id))
  );
  out.result({ allowedSigners: text }, (say) => say(text.trimEnd()));
}

/** verify's cross-check of DIR/journal.git against the document (nothing when there is no journal). */
export async function journalProblems(
  dir: string,
  ledger: import('../../lib/core/ledger.ts').Ledger
): Promise<import('../../lib/core/verify.ts').Problem[]> {
  const binding = nodeBinding(dir);
  if (
    !(await stat(path.join(binding.gitdir, 'HEAD')).then(
      () => true,
      () => false
    ))
  )
    return [];
  const { crossCheck } = await import('../../lib/adapters/git/crosscheck.ts');
  return crossCheck(binding, ledger);
}

const short = (s?: string) => (s ? s.slice(0, 12) : '-');

/** journal status: what DIR/journal.git holds against the ledger. */
export async function journalStatus(opts: GlobalOptions, out: Output): Promise<void> {
  const { journal } = await journalOf(opts);
  const s = await journal.status();
  out.result({ ...s }, (say) => {
    say(`journal ${journal.gitdir}: ${s.commits} commits for ${s.events} events; main ${s.head ?? '(none)'}`);
    if (s.concurrent) say(`  ${s.concurrent} concurrent head(s) (the next event joins them)`);
    if (s.missing)
      say(`  ${s.missing} event(s) have no journal signature, so no commit: see \`provenance-ledger journal repair\``);
    say(
      `  last push: ${s.lastPush ? `${s.lastPush.at} to ${s.lastPush.url} (main ${short(s.lastPush.main)})` : 'never'}`
    );
    say(`  last pull: ${s.lastPull ? `${s.lastPull.at} from ${s.lastPull.url} (${s.lastPull.count} new)` : 'never'}`);
    for (const r of s.remotes ?? [])
      say(
        `  remote ${r.url}: ${r.sealed ? 'sealed (the host holds ciphertext only)' : 'readable (the host can read every event)'}`
      );
  });
}

/**
 * journal repair: signs the missing journal commits of events this device authored (its key must be in DIR),
 * says which events only other authors can sign, and writes DIR/journal.git again from the ledger when its
 * files are damaged (the damaged directory is kept aside). Exit 0 when the journal is complete, 1 otherwise.
 */
export async function journalRepair(opts: GlobalOptions, out: Output): Promise<ExitCode> {
  const dir = ledgerDir(opts);
  const { rename } = await import('node:fs/promises');
  const { signMissing, REWRITE_CODES } = await import('../../lib/adapters/git/repair.ts');
  const { crossCheck } = await import('../../lib/adapters/git/crosscheck.ts');
  const session = await openSession(opts, { write: false });
  const identity = session.identity;
  const signer = identity && session.ledger.member(identity.publicKey)?.active ? identitySigner(identity) : undefined;
  const signedResult = await signMissing(session.ledger, signer);
  const binding = nodeBinding(dir);
  let movedAside: string | undefined;
  const hasJournal = await stat(path.join(binding.gitdir, 'HEAD')).then(
    () => true,
    () => false
  );
  if (hasJournal) {
    const before = await crossCheck(binding, session.ledger);
    if (before.some((p) => REWRITE_CODES.has(p.code))) {
      movedAside = `${binding.gitdir}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(binding.gitdir, movedAside);
    }
  }
  const journal = await GitJournal.attach(binding, session.ledger);
  await journal.settled();
  await journal.pack();
  const after = await crossCheck(binding, session.ledger);
  const s = await journal.status();
  const complete = s.missing === 0 && after.length === 0;
  const name = (a: { name: string; author: string }) =>
    `${a.name || 'an unknown member'} (key ${a.author.slice(0, 12)}…)`;
  out.result(
    {
      ok: complete,
      signed: signedResult.signed,
      others: signedResult.others,
      waiting: signedResult.waiting,
      rewritten: movedAside !== undefined,
      damagedKeptAt: movedAside ?? null,
      commits: s.commits,
      events: s.events,
      problems: [...signedResult.problems, ...after]
    },
    (say) => {
      if (signedResult.signed.length)
        say(`signed the journal commits of ${signedResult.signed.length} event(s) authored by this device`);
      if (movedAside)
        say(
          `the journal's files were damaged: written again from the ledger (the damaged copy is kept at ${movedAside})`
        );
      if (!identity && signedResult.others.length)
        say(
          `this directory has no device key: only an event's author can sign its commit (key import a backup of yours to sign your events)`
        );
      for (const o of signedResult.others) {
        say(
          `${o.events.length} event(s) by ${name(o)} have no journal signature: only their author can sign them; ask them to run \`provenance-ledger journal repair\` on a device holding that key, then pull or sync`
        );
      }
      if (signedResult.waiting.length)
        say(
          `${signedResult.waiting.length} event(s) of yours wait for those: run journal repair again once their parents are signed`
        );
      for (const p of [...signedResult.problems, ...after]) say(`  [${p.code}] ${p.location ?? ''}: ${p.message}`);
      say(
        complete
          ? `ok: the journal holds all ${s.commits} commits and agrees with the ledger`
          : `the journal holds ${s.commits} commits for ${s.events} events`
      );
    }
  );
  return complete ? Exit.OK : Exit.PROBLEMS;
}

/**
 * What verify should tell the user to do about journal problems: sign the commits of this device's events
 * (journal repair), ask other authors to sign theirs, or write a damaged journal again.
 */
export async function journalAdvice(
  dir: string,
  ledger: import('../../lib/core/ledger.ts').Ledger,
  problems: import('../../lib/core/verify.ts').Problem[]
): Promise<string[]> {
  const advice: string[] = [];
  const missing = new Set(problems.filter((p) => p.code === 'JOURNAL_SIGNATURE_MISSING').map((p) => p.eventId ?? ''));
  if (missing.size) {
    const { byAuthor } = await import('../../lib/adapters/git/repair.ts');
    const storage = await FsStorage.open(dir, { sweep: [] });
    const identity = await loadIdentity(storage).catch(() => undefined);
    const events = ledger.events().filter((e) => missing.has(e.id));
    for (const g of byAuthor(ledger, events)) {
      const who = `${g.name || 'an unknown member'} (key ${g.author.slice(0, 12)}…)`;
      if (identity?.publicKey === g.author) {
        advice.push(
          `${g.events.length} event(s) authored by this device lack a journal signature: run \`provenance-ledger journal repair --ledger ${dir}\` to sign their commits`
        );
      } else {
        advice.push(
          `${g.events.length} event(s) by ${who} lack a journal signature: only their author can sign them (\`provenance-ledger journal repair\` on a device holding that key, then pull or sync)`
        );
      }
    }
  }
  if (problems.some((p) => p.code === 'EVENT_NOT_IN_DOCUMENT')) {
    advice.push(
      `the document lost event(s) that its Git journal still holds: \`provenance-ledger recover --ledger ${dir}\` restores them (no write proceeds until then)`
    );
  }
  if (
    problems.some((p) => ['JOURNAL_CORRUPT', 'JOURNAL_MISMATCH', 'JOURNAL_EXTRA', 'JOURNAL_MISSING'].includes(p.code))
  ) {
    advice.push(
      `the Git journal (${path.join(dir, 'journal.git')}) is derived from the ledger: \`provenance-ledger journal repair --ledger ${dir}\` writes it again (a damaged one is kept aside)`
    );
  }
  return advice;
}
