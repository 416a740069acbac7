/**
 * The command line's commands and options (commander), for every command line that main.ts does not run itself.
 * This file only declares commands and options and maps failures to exit codes; each command lives in commands/,
 * and every byte of terminal output goes through output.ts.
 *
 * Loading is lazy: this file imports only commander, the schema's constants and the output module. A command's
 * module is imported when that command runs, and Automerge (its wasm) before any command that opens the
 * document; log, show and trace first try the read index (read-index.ts), which needs neither.
 */
import { Command, CommanderError, Option } from 'commander';
import {
  CLASSIFICATIONS,
  DELETION_STATUSES,
  DERIVATION_OPERATIONS,
  DESTINATION_KINDS,
  EVENT_TYPES,
  EVIDENCE_KINDS,
  GENERATION_MODES,
  POLICY_KINDS
} from '../lib/core/types.ts';
import { LEDGER_DIR_ENV, afterCommand, forgetSessions, type GlobalOptions } from './context.ts';
import { CliError, Exit, Output, type ExitCode } from './output.ts';

/**
 * A member argument: a device key may start with "-" (base64url), so `remove` and `role` take unknown options as
 * arguments, and refuse here one that is not a device key.
 */
function memberRef(ref: string): string {
  if (ref.startsWith('-') && !/^[A-Za-z0-9_-]{43}$/.test(ref)) throw new CliError('USAGE', `unknown option '${ref}'`);
  return ref;
}
import { PASSPHRASE_ENV } from '../lib/adapters/node/passphrase.ts';
// The read commands are small and load Automerge themselves only when the read index cannot answer.
import { log } from './commands/log.ts';
import { show } from './commands/show.ts';
import { trace } from './commands/trace.ts';

const VERSION = '0.1.0';

/**
 * Imports a command's module when the command runs. The core's '@automerge/automerge/slim' needs the wasm that
 * the full entry point initializes, so that comes first.
 */
function lazy<M>(load: () => Promise<M>): () => Promise<M> {
  return async () => {
    await import('@automerge/automerge');
    return load();
  };
}
const cmd = {
  init: lazy(() => import('./commands/init.ts')),
  generation: lazy(() => import('./commands/record/generation.ts')),
  policy: lazy(() => import('./commands/record/policy.ts')),
  checklist: lazy(() => import('./commands/record/checklist.ts')),
  export: lazy(() => import('./commands/record/export.ts')),
  derivation: lazy(() => import('./commands/record/derivation.ts')),
  handoff: lazy(() => import('./commands/record/handoff.ts')),
  deletion: lazy(() => import('./commands/record/deletion.ts')),
  reveal: lazy(() => import('./commands/reveal.ts')),
  verify: lazy(() => import('./commands/verify.ts')),
  key: lazy(() => import('./commands/key.ts')),
  backup: lazy(() => import('./commands/backup.ts')),
  compact: lazy(() => import('./commands/compact.ts')),
  /** The Git journal commands and their adapters (isomorphic-git bindings). */
  journal: lazy(() => import('./commands/journal.ts')),
  recover: lazy(() => import('./commands/recover.ts')),
  sync: lazy(() => import('./commands/sync.ts')),
  proofs: lazy(() => import('./commands/proofs.ts')),
  /** verify-bundle reads a bundle file, never a ledger: no Automerge. */
  bundle: () => import('./commands/proofs.ts'),
  stamps: lazy(() => import('./commands/timestamp.ts'))
};

// Commander's parsed options carry no types: each command takes them as its own options type and checks the
// values it reads (the one place the CLI meets an untyped library).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Action = (opts: any, out: Output, ...args: string[]) => Promise<ExitCode | void>;

/** Builds the program. `out` receives all output; `done` the exit code of the command that ran. */
export function buildProgram(out: Output, done: (code: ExitCode) => void): Command {
  const program = new Command('provenance-ledger')
    .description('A signed, tamper-evident provenance ledger for 3D models made with cloud AI generators.')
    .version(VERSION)
    .addOption(new Option('--ledger <dir>', 'the ledger directory').env(LEDGER_DIR_ENV))
    .option('--json', 'print one JSON document on stdout instead of text')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ outputError: () => {} });

  /** Wraps a command's action: merges global options, runs it, records its exit code. */
  const run = (fn: Action) =>
    async function (this: Command, ...args: unknown[]) {
      const cmd = args.pop() as Command;
      args.pop(); // the command's own options: optsWithGlobals() includes them
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      out.json = !!opts.json;
      const code = (await fn(opts, out, ...(args as string[]))) ?? Exit.OK;
      // A command that changed the document leaves the read index in step with it (context.ts afterCommand).
      if (code === Exit.OK) await afterCommand();
      done(code);
    };

  program
    .command('init')
    .description('make this device key (unless one was imported) and a new ledger it owns')
    .option('--name <name>', 'your member name (default: your user name)')
    .option('--ledger-name <name>', "the ledger's name (default: the directory's name)")
    .action(run(async (opts, o) => (await cmd.init()).init(opts, o)));

  const record = program.command('record').description('record an event').exitOverride();

  record
    .command('generation')
    .description('a run of a cloud generator: prompt commitment, input and output hashes, settings')
    .requiredOption('--platform <name>', 'the platform (e.g. Tripo, Meshy)')
    .option('--model-version <v>', "the platform's model version")
    .addOption(
      new Option('--mode <mode>', 'what kind of run (default: image-to-3d with --input, else text-to-3d)').choices(
        GENERATION_MODES
      )
    )
    .option(
      '--prompt <text>',
      'the prompt (kept in the local vault; the ledger holds a commitment); visible in the process list: prefer --prompt-file'
    )
    .option(
      '--prompt-file <file>',
      'read the prompt from a UTF-8 file, or from stdin with "-" (exactly, newlines included)'
    )
    .option('--input <files...>', 'reference inputs sent to the platform')
    .requiredOption('--output <files...>', 'every file the platform produced (a .gltf brings its .bin and textures)')
    .option('--project <name>', "the project (default: the checklist's)")
    .addOption(
      new Option('--classification <c>', "how confidential (default: the checklist's)").choices(CLASSIFICATIONS)
    )
    .option('--client <name>', 'the client')
    .option(
      '--training-opt-out',
      "the platform's no-training option was on (without this or --no-training-opt-out: not recorded)"
    )
    .option('--no-training-opt-out', "the platform's no-training option was off")
    .option('--privacy-mode', "the platform's privacy mode was on (without this or --no-privacy-mode: not recorded)")
    .option('--no-privacy-mode', "the platform's privacy mode was off")
    .option('--seed <seed>', 'the seed')
    .option('--job-id <id>', "the platform's id for the task")
    .option('--checklist <id>', 'the checklist event that applied')
    .option('--policy <ids...>', 'policy-snapshot events in force (default: the latest of each kind for the platform)')
    .option('--notes <text>', 'notes')
    .action(run(async (opts, o) => (await cmd.generation()).recordGeneration(opts, o)));

  record
    .command('policy')
    .description("a platform's policy document as retrieved: text hash (text kept locally) and key answers")
    .requiredOption('--platform <name>', 'the platform')
    .addOption(new Option('--kind <kind>', 'which document').choices(POLICY_KINDS).makeOptionMandatory())
    .requiredOption('--text-file <file>', 'the text as saved (.txt or .html)')
    .option('--url <url>', 'where it was retrieved from')
    .option('--answers <file.json>', 'answers to the key questions (JSON object; see README)')
    .option('--retrieved-at <time>', 'when it was retrieved (default: now)')
    .option('--doc-version <v>', "the document's own version or 'last updated' label")
    .option('--reviewed-by <name>', 'who read it and gave the answers')
    .option('--summary <text>', 'what changed since the previous snapshot, in words')
    .option('--notes <text>', 'notes')
    .action(run(async (opts, o) => (await cmd.policy()).recordPolicy(opts, o)));

  record
    .command('checklist')
    .description('the pre-generation checklist of a project')
    .requiredOption('--project <name>', 'the project')
    .addOption(new Option('--classification <c>', 'how confidential').choices(CLASSIFICATIONS).makeOptionMandatory())
    .option('--client <name>', 'the client')
    .option('--platform <name>', 'the platform it was done for')
    .option('--policy <ids...>', 'policy-snapshot events reviewed (default with --platform: the latest of each kind)')
    .option('--classified', 'the classification was decided')
    .option('--policies-reviewed', "the platform's current policies were read")
    .option('--privacy-settings', 'training opt-out and privacy mode were switched on')
    .option('--inputs-sanitized', 'inputs were stripped of metadata, client names and faces')
    .option('--nda-checked', "the client's NDA allows this platform")
    .option('--setting <names...>', 'platform settings switched on, by their own names')
    .option('--notes <text>', 'notes')
    .action(run(async (opts, o) => (await cmd.checklist()).recordChecklist(opts, o)));

  record
    .command('export')
    .description('files downloaded from a platform and stored somewhere')
    .requiredOption('--file <files...>', 'the files as stored')
    .requiredOption('--destination <label>', "the place's name, e.g. 'Studio NAS' (never a path)")
    .addOption(
      new Option('--destination-kind <kind>', 'what kind of place').choices(DESTINATION_KINDS).makeOptionMandatory()
    )
    .option('--encrypted', 'the destination is encrypted')
    .option('--generation <id>', 'the generation the files came from (default: found by hash)')
    .option('--notes <text>', 'notes')
    .action(run(async (opts, o) => (await cmd.export()).recordExport(opts, o)));

  record
    .command('derivation')
    .description('a local edit of earlier files')
    .requiredOption('--from <files...>', 'the files the edit started from')
    .requiredOption('--output <files...>', 'the files it produced')
    .requiredOption('--tool <name>', 'the tool (e.g. Blender)')
    .option('--tool-version <v>', "the tool's version")
    .addOption(new Option('--operation <op>', 'what was done').choices(DERIVATION_OPERATIONS).makeOptionMandatory())
    .option('--source <ids...>', 'events that recorded the --from files (default: found by hash)')
    .option('--notes <text>', 'notes')
    .action(run(async (opts, o) => (await cmd.derivation()).recordDerivation(opts, o)));

  record
    .command('handoff')
    .description('deliverables handed to a client')
    .requiredOption('--file <files...>', 'the files delivered')
    .requiredOption('--recipient <name>', 'who received them')
    .option('--organization <name>', "the recipient's organization")
    .option('--contact <text>', 'an e-mail address, phone number or handle')
    .option('--derived-from <ids...>', 'events that recorded the files or their sources (default: found by hash)')
    .option('--channel <label>', 'how they were delivered')
    .option('--terms <text>', 'the licence or contract terms')
    .option('--project <name>', 'the project')
    .option('--notes <text>', 'notes')
    .action(run(async (opts, o) => (await cmd.handoff()).recordHandoff(opts, o)));

  record
    .command('deletion')
    .description("a cloud copy's deletion: requested, confirmed or failed")
    .requiredOption('--platform <name>', 'the platform')
    .option('--generation <id>', 'the generation whose cloud copy it is')
    .option('--job-id <id>', "the platform's id for the task")
    .addOption(
      new Option('--status <status>', 'where the deletion stands').choices(DELETION_STATUSES).makeOptionMandatory()
    )
    .option('--evidence <file>', 'the confirmation (e-mail, screenshot, API response): hashed, kept by you')
    .addOption(
      new Option('--evidence-kind <kind>', 'what the evidence is (default: from its extension)').choices(EVIDENCE_KINDS)
    )
    .option('--notes <text>', 'notes')
    .action(run(async (opts, o) => (await cmd.deletion()).recordDeletion(opts, o)));

  program
    .command('log')
    .description('list events, oldest first')
    .addOption(new Option('--type <type>', 'only this event type').choices(EVENT_TYPES))
    .option('--project <name>', 'only this project')
    .option('--platform <name>', 'only this platform')
    .action(run(log));

  program
    .command('show')
    .description('one event in full')
    .argument('<id>', 'event id or a unique prefix of at least 8 hex digits')
    .action(run((opts, o, id) => show(id, opts, o)));

  program
    .command('trace')
    .description("a file's chain of custody, found by its hash")
    .argument('<file>', 'the file')
    .action(run((opts, o, file) => trace(file, opts, o)));

  program
    .command('reveal')
    .description("the prompt behind a generation's commitment, from this device's vault")
    .argument('<id>', 'generation event id or prefix')
    .action(run(async (opts, o, id) => (await cmd.reveal()).reveal(id, opts, o)));

  program
    .command('verify')
    .description(
      'check every file the ledger keeps: document, journal, device log, checkpoints, time-stamps, policy texts, vault, identity (exit 1 when a problem is found; never writes)'
    )
    .option(
      '--repair',
      'write again what is derived from the document (the device log, checkpoints that no longer verify) and say what was done'
    )
    .option(
      '--full',
      "check every event and journal commit signature one by one (by default this device's events under its newest good checkpoint are covered by that checkpoint's one signature)"
    )
    .action(run(async (opts, o) => (await cmd.verify()).verify(opts, o)));

  const key = program
    .command('key')
    .description(`back up or restore this device's key (passphrase from $${PASSPHRASE_ENV} or typed)`)
    .exitOverride();
  key
    .command('export')
    .description('write a passphrase-encrypted backup of the device key')
    .requiredOption('--out <file>', 'the backup file to write')
    .option('--force', 'overwrite the file if it exists')
    .action(run(async (opts, o) => (await cmd.key()).keyExport(opts, o)));
  key
    .command('import')
    .description('restore a device key from a backup into the ledger directory')
    .argument('<file>', 'the backup file')
    .action(run(async (opts, o, file) => (await cmd.key()).keyImport(file, opts, o)));

  program
    .command('backup')
    .description(
      'write the complete backup: the device key, every event, the policy texts and the prompt vault, passphrase-encrypted'
    )
    .requiredOption('--out <file>', 'the backup file to write')
    .option('--force', 'overwrite the file if it exists')
    .action(run(async (opts, o) => (await cmd.backup()).backupLedger(opts, o)));
  program
    .command('restore')
    .description(
      'restore a complete backup into the ledger directory (a new one, or the same ledger: what is missing is added; another ledger: refused)'
    )
    .argument('<file>', 'the backup file')
    .action(run(async (opts, o, file) => (await cmd.backup()).restoreLedger(file, opts, o)));

  program
    .command('compact')
    .description('rewrite the stored document as one snapshot')
    .action(run(async (opts, o) => (await cmd.compact()).compactLedger(opts, o)));

  program
    .command('push')
    .description(
      "push the ledger's Git journal, sealed (the host reads no name) unless --plain (pulling first; never forced)"
    )
    .argument('<url>')
    .option('--plain', 'push a readable journal (for a public or self-hosted remote where readability is wanted)')
    .action(run(async (opts, o, url) => (await cmd.journal()).journalPush(opts, o, url)));
  program
    .command('pull')
    .description('pull and check every commit of a Git remote (a sealed one is opened with the team keys)')
    .argument('<url>')
    .action(run(async (opts, o, url) => (await cmd.journal()).journalPull(opts, o, url)));
  program
    .command('clone')
    .description(
      'rebuild a verifying ledger in --ledger DIR from a Git remote (a sealed one needs the team keys: --key-backup, or a directory that joined)'
    )
    .argument('<url>')
    .option(
      '--key-backup <file>',
      'restore the device key and team keys from this key backup first (passphrase from $PROVENANCE_LEDGER_PASSPHRASE or typed)'
    )
    .action(run(async (opts, o, url) => (await cmd.journal()).journalClone(opts, o, url)));
  program
    .command('allowed-signers')
    .description('print an allowed-signers file for git verify-commit')
    .option('--sealed', "the archive keys that sign a sealed journal's commits")
    .action(run(async (opts, o) => (await cmd.journal()).journalAllowedSigners(opts, o)));
  const journalCmd = program
    .command('journal')
    .description("the ledger's Git journal (DIR/journal.git)")
    .exitOverride();
  journalCmd
    .command('status')
    .description('commits, head, events without a commit, last push and pull')
    .action(run(async (opts, o) => (await cmd.journal()).journalStatus(opts, o)));
  journalCmd
    .command('repair')
    .description(
      "sign the missing journal commits of this device's events, and write a damaged journal again from the ledger (exit 1 while events lack a commit)"
    )
    .action(run(async (opts, o) => (await cmd.journal()).journalRepair(opts, o)));
  program
    .command('recover')
    .description(
      "rebuild a lost or damaged document from this device's Git journal and its readable chunks, event by event (damaged files kept aside; exit 1 when an event could not be restored)"
    )
    .action(run(async (opts, o) => (await cmd.recover()).recover(opts, o)));

  // Team sync (commands/sync.ts): relay URL from --relay, else $PROVENANCE_LEDGER_RELAY, else ws://127.0.0.1:8787.
  program
    .command('invite')
    .description(
      'print an invite code and wait on the relay for the new device (exit 1 when the roster rules refuse it)'
    )
    .option('--role <role>', 'the new member: admin, member or viewer (default member)')
    .option('--member <member>', "another device of this member (id or name): it gets the member's id, name and role")
    .option('--relay <url>', 'the relay')
    .option('--timeout <s>', 'how long to wait')
    .action(run(async (opts, o) => (await cmd.sync()).invite(opts, o)));
  program
    .command('join')
    .description('join a team with an invite code: makes --ledger DIR a member device')
    .argument('<code>')
    .option('--relay <url>', 'the relay')
    .option('--name <name>', 'your member name')
    .option('--timeout <s>', 'how long to wait')
    .action(run(async (opts, o, code) => (await cmd.sync()).join(code, opts, o)));
  program
    .command('sync')
    .description('sync with the team through the relay (end-to-end encrypted; members only)')
    .option('--relay <url>', 'the relay')
    .option('--once', 'exit once in step with the peers online')
    .option('--wait <s>', 'with --once: how long to wait for a peer (default 30)')
    .option('--timeout <s>', 'with --once: the longest it runs in all (default 300)')
    .action(run(async (opts, o) => (await cmd.sync()).sync(opts, o)));
  program
    .command('remove')
    .description(
      "remove a member's devices, or one device by its key, from the team and rotate the team key (exit 1 when the roster rules refuse it)"
    )
    .argument('<member>', 'device key (that device only), member id or name (every device of the member)')
    .allowUnknownOption()
    .action(run(async (opts, o, ref) => (await cmd.sync()).removeMember(memberRef(ref), opts, o)));
  program
    .command('role')
    .description("change a member's role (owner or admin; exit 1 when the roster rules refuse it)")
    .argument('<member>', 'device key, member id or name')
    .argument('<role>', 'owner, admin, member or viewer')
    .allowUnknownOption()
    .action(run(async (opts, o, ref, role) => (await cmd.sync()).changeMemberRole(memberRef(ref), role, opts, o)));

  // Proofs (commands/proofs.ts): the device log's checkpoints, witnessing, evidence bundles.
  program
    .command('checkpoint')
    .description(
      "sign this device's log head; --out writes a witness request, --cosigned merges a teammate's cosignature; --tsa time-stamps it (exit 1 when a TSA fails: queued)"
    )
    .option('--out <file>', 'write a witness request (checkpoint + consistency proofs)')
    .option('--tsa <url...>', 'time-stamp it with these RFC 3161 TSAs (default: the configured ones, see tsa add)')
    .option('--from <sizes...>', 'with --out: prove consistency from these sizes (default: earlier checkpoints)')
    .option('--cosigned <file>', 'merge a cosigned checkpoint returned by a witness')
    .option('--force', 'overwrite --out')
    .action(run(async (opts, o) => (await cmd.proofs()).checkpoint(opts, o)));
  program
    .command('witness')
    .description("check a teammate's log against the checkpoint you cosigned last, and cosign it (exit 1 when refused)")
    .option('--log <dir>', "the teammate's ledger directory")
    .option('--request <file>', 'a witness request file (from checkpoint --out)')
    .option('--out <file>', 'with --request: where to write the cosigned checkpoint')
    .option('--force', 'overwrite --out')
    .action(run(async (opts, o) => (await cmd.proofs()).witness(opts, o)));
  program
    .command('prove')
    .description('write an evidence bundle about a file or an event, verifiable offline')
    .argument('<file-or-id>', 'the file (found by its hash) or an event id')
    .requiredOption('--out <bundle>', 'the bundle file to write')
    .option('--reveal-prompt', "include the prompt openings from this device's vault")
    .option('--unwitnessed', 'use the newest checkpoint even if no teammate cosigned it')
    .option('--force', 'overwrite --out')
    .action(run(async (opts, o, ref) => (await cmd.proofs()).prove(ref, opts, o)));
  program
    .command('verify-bundle')
    .description('check an evidence bundle offline (exit 0 valid, 1 invalid, 2 usage)')
    .argument('<bundle>', 'the bundle file')
    .option('--file <files...>', 'files to check against the hashes the bundle names')
    .option('--tsa-roots <pem...>', 'PEM files of the time-stamp roots you trust (else $PROVENANCE_LEDGER_TSA_ROOTS)')
    .option('--expect-ledger <id>', 'the ledger id you know by other means: any other fails')
    .action(run(async (opts, o, b) => (await cmd.bundle()).verifyBundleCommand(b, opts, o)));

  // RFC 3161 time-stamps of checkpoints (commands/timestamp.ts): the TSAs checkpoint, sync and prove use.
  const tsa = program
    .command('tsa')
    .description("the RFC 3161 time-stamping authorities that time-stamp this device's checkpoints")
    .exitOverride();
  tsa
    .command('add')
    .description('time-stamp checkpoints with this TSA from now on (only a 32-byte hash is sent)')
    .argument('<url>', 'the TSA, e.g. https://freetsa.org/tsr')
    .action(run(async (opts, o, url) => (await cmd.stamps()).tsaAdd(url, opts, o)));
  tsa
    .command('remove')
    .description('stop using this TSA, and drop its pending requests (its tokens are kept)')
    .argument('<url>')
    .action(run(async (opts, o, url) => (await cmd.stamps()).tsaRemove(url, opts, o)));
  tsa
    .command('list')
    .description('configured TSAs, tokens held per checkpoint size, pending requests (exit 1 when a file is damaged)')
    .action(run(async (opts, o) => (await cmd.stamps()).tsaList(opts, o)));

  return program;
}

/** Runs the CLI through commander; resolves to the exit code. */
export async function runProgram(argv: string[] = process.argv, out = new Output()): Promise<ExitCode> {
  out.json = argv.includes('--json');
  forgetSessions();
  let code: ExitCode = Exit.OK;
  const program = buildProgram(out, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return Exit.OK;
      const message = e.message.replace(/^error: /, '');
      return out.error(new CliError('USAGE', e.code === 'commander.help' ? 'no command given (see --help)' : message));
    }
    return out.error(e);
  }
}
