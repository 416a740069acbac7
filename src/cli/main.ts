/**
 * provenance-ledger: the command line over the core. The commands and options are declared in program.ts
 * (commander); this entry point runs the read commands in their plain forms itself, so that the most frequent
 * commands do not load and build the whole program first:
 *
 *   log [--type T] [--project NAME] [--platform NAME] | show ID | trace FILE, with --ledger DIR and --json,
 *
 * each option at most once, each value a separate argument that does not start with "-", a --type that is one of
 * the event types. Any other command line (help, an unknown or repeated option, a missing or extra argument, the
 * --opt=value form...) goes to program.ts, which accepts it or reports the error exactly as before.
 */
import { EVENT_TYPES } from '../lib/core/types.ts';
import { LEDGER_DIR_ENV, afterCommand, forgetSessions } from './context.ts';
import { Exit, Output, type ExitCode } from './output.ts';
import { log, type LogOptions } from './commands/log.ts';
import { show } from './commands/show.ts';
import { trace } from './commands/trace.ts';

const READ_OPTIONS: Record<string, readonly string[]> = {
  log: ['--ledger', '--type', '--project', '--platform'],
  show: ['--ledger'],
  trace: ['--ledger']
};

/** A read command line in its plain form (see above): the command, its options and its argument; else undefined. */
export function plainReadCommand(
  args: readonly string[]
): { command: 'log' | 'show' | 'trace'; opts: LogOptions; arg?: string } | undefined {
  const command = args[0];
  if (command !== 'log' && command !== 'show' && command !== 'trace') return undefined;
  const valued = READ_OPTIONS[command];
  const opts: Record<string, string | boolean> = {};
  let arg: string | undefined;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') {
      if (opts.json) return undefined;
      opts.json = true;
    } else if (valued.includes(a)) {
      const key = a.slice(2);
      const value = args[++i];
      if (key in opts || value === undefined || value === '' || value.startsWith('-')) return undefined;
      opts[key] = value;
    } else if (command !== 'log' && arg === undefined && a !== '' && !a.startsWith('-')) {
      arg = a;
    } else return undefined;
  }
  if (command !== 'log' && arg === undefined) return undefined;
  if (opts.type !== undefined && !(EVENT_TYPES as readonly string[]).includes(opts.type as string)) return undefined;
  // As commander does for --ledger: the environment's directory when the option is not given.
  if (opts.ledger === undefined && process.env[LEDGER_DIR_ENV] !== undefined) opts.ledger = process.env[LEDGER_DIR_ENV];
  return { command, opts, arg };
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[] = process.argv, out = new Output()): Promise<ExitCode> {
  const read = plainReadCommand(argv.slice(2));
  if (!read) return (await import('./program.ts')).runProgram(argv, out);
  // What program.ts does for these commands: the same functions, options and exit codes.
  out.json = !!read.opts.json;
  forgetSessions();
  try {
    const { command, opts, arg } = read;
    if (command === 'log') await log(opts, out);
    else if (command === 'show') await show(arg!, opts, out);
    else await trace(arg!, opts, out);
    await afterCommand();
    return Exit.OK;
  } catch (e) {
    return out.error(e);
  }
}
