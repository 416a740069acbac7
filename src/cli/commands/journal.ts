/**
 * push, pull, clone, allowed-signers: the ledger's Git journal (DIR/journal.git) and its remotes.
 * Credentials come from PROVENANCE_LEDGER_GIT_USERNAME / _PASSWORD or _TOKEN, or a prompt on a terminal;
 * they are never written to disk.
 */
import { rm, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import path from 'node:path';
import { FsStorage } from '../../lib/adapters/storage/fs.ts';
import { GitJournal } from '../../lib/adapters/git/journal.ts';
import { nodeBinding } from '../../lib/adapters/git/node.ts';
import type { Credentials } from '../../lib/adapters/git/binding.ts';
import { clone as cloneRemote, pull as pullRemote, push as pushRemote } from '../../lib/adapters/git/remote.ts';
import { allowedSigners as signersFile } from '../../lib/core/journal/allowed-signers.ts';
import { identitySigner, loadIdentity } from '../../lib/adapters/node/identity.ts';
import { ledgerDir, openSession, type GlobalOptions } from '../context.ts';
import type { Output } from '../output.ts';

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

export async function journalPush(opts: GlobalOptions, out: Output, url: string): Promise<void> {
  const { journal } = await journalOf(opts);
  const r = await pushRemote(journal, url);
  out.result({ url, main: r.main ?? null, concurrent: r.concurrent, received: r.received, commits: journal.size }, (say) => {
    say(`pushed ${journal.size} commits to ${url} (main ${r.main?.slice(0, 12)})${r.received ? `, after pulling ${r.received} new events` : ''}`);
    if (r.concurrent.length) say(`  ${r.concurrent.length} concurrent head(s) pushed as refs/heads/concurrent/*; the next event joins them`);
  });
}

export async function journalPull(opts: GlobalOptions, out: Output, url: string): Promise<void> {
  const { journal } = await journalOf(opts);
  const r = await pullRemote(journal, url);
  out.result({ url, received: r.received, events: journal.ledger.size }, (say) => say(`pulled ${r.received} new events from ${url}; the ledger holds ${journal.ledger.size}`));
}

export async function journalClone(opts: GlobalOptions, out: Output, url: string): Promise<void> {
  const dir = ledgerDir(opts);
  const existed = await stat(dir).then(() => true, () => false);
  const storage = await FsStorage.open(dir);
  try {
    const identity = await loadIdentity(storage);
    const journal = await cloneRemote(nodeBinding(dir, prompt), url, storage, identity ? identitySigner(identity) : undefined);
    out.result({ url, dir: path.resolve(dir), ledger: { id: journal.ledger.id, name: journal.ledger.name }, events: journal.ledger.size }, (say) => {
      say(`cloned ledger "${journal.ledger.name}" (${journal.ledger.size} events, all verified) into ${path.resolve(dir)}`);
      if (!identity) say('  this directory has no device key: import yours (key import) or init one and ask an admin to add it');
    });
  } catch (e) {
    if (!existed) await rm(dir, { recursive: true, force: true });
    else {
      await storage.removeRange(['doc']).catch(() => undefined);
      await rm(path.join(dir, 'journal.git'), { recursive: true, force: true });
    }
    throw e;
  }
}

export async function journalAllowedSigners(opts: GlobalOptions, out: Output): Promise<void> {
  const session = await openSession(opts, { write: false });
  const text = signersFile(session.ledger.roster(), session.ledger.name);
  out.result({ allowedSigners: text }, (say) => say(text.trimEnd()));
}

/** verify's cross-check of DIR/journal.git against the document (nothing when there is no journal). */
export async function journalProblems(dir: string, ledger: import('../../lib/core/ledger.ts').Ledger): Promise<import('../../lib/core/verify.ts').Problem[]> {
  const binding = nodeBinding(dir);
  if (!(await stat(path.join(binding.gitdir, 'HEAD')).then(() => true, () => false))) return [];
  const { crossCheck } = await import('../../lib/adapters/git/crosscheck.ts');
  return crossCheck(binding, ledger);
}
