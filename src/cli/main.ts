// bpf-ts command line: dispatch, shared flags (--json, --debug, --help), and
// the one place errors become exit codes. A BpfError prints one line on
// stderr; a stack trace only with --debug.

import { BpfError } from '../errors.js';
import type { Command, CommandContext, OptionSpec, OptionValues } from './command.js';
import { type CommandEntry, commands } from './commands/index.js';
import { runCleanups, wireProcessExitPaths, writeStderr, writeStdout } from './lifecycle.js';

// Built-ins through getBuiltinModule: an ESM import of node:fs loads its
// streams and promises API (~2 ms of start-up) for nothing here.
const { readFileSync } = process.getBuiltinModule('node:fs');
// Help texts and completion scripts load only when asked for.
const help = () => import('./option-help.js');
const { parseArgs } = process.getBuiltinModule('node:util');

const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function findCommand(name: string): CommandEntry | undefined {
  return commands.find((c) => c.name === name || c.aliases?.includes(name));
}

function usage(): string {
  return [
    'bpf-ts: load eBPF programs into Linux from Node.js',
    '',
    'commands:',
    ...commands.flatMap((c) => [`  ${c.name.padEnd(9)} ${c.summary}`]),
    '',
    'every command takes --json (machine-readable output) and --debug (stack traces on errors);',
    '`bpf-ts help COMMAND` (or `bpf-ts COMMAND --help`) shows its options; `bpf-ts --version`;',
    '`bpf-ts completion bash|zsh` prints a shell completion script.',
  ].join('\n');
}

/** The package version (package.json next to src/ and dist/). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Options of a few commands that users reach for on the wrong one. */
const MISPLACED: Record<string, Record<string, string>> = {
  run: {
    tc: 'run attaches XDP programs, socket filters, netfilter programs or tracing programs; for TC use load --tc',
    cgroup: 'run attaches XDP programs, socket filters, netfilter programs or tracing programs; for cgroups use load --cgroup',
    link: 'run always attaches XDP through a bpf_link (unless --netlink); --link is for load',
  },
};

/**
 * `--priority -128`: parseArgs takes "-128" for an option. A negative number
 * after an option that wants a value is that value (`--priority=-128`).
 */
function negativeValues(args: string[], options: Command['options']): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const opt = options[a.replace(/^--/, '')];
    if (a.startsWith('--') && !a.includes('=') && opt?.type === 'string' && next !== undefined && /^-\d+$/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** parseArgs' error in our words: which option, what is wrong, where it belongs. */
/** Every command's module (for messages and scripts that span commands). */
export async function loadCommands(): Promise<Command[]> {
  return Promise.all(commands.map((c) => c.load()));
}

async function parseError(cmd: Command, e: unknown): Promise<BpfError> {
  const code = (e as { code?: string }).code;
  const opt = /'(-{1,2}[^' <]+)/.exec((e as Error).message)?.[1] ?? '';
  const name = opt.replace(/^-+/, '');
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const hint = MISPLACED[cmd.name]?.[name];
    if (hint) return new BpfError('USAGE', hint);
    const elsewhere = (await loadCommands()).filter((c) => c.name !== cmd.name && name in c.options).map((c) => c.name);
    const known = Object.keys(cmd.options).map((o) => `--${o}`);
    return new BpfError(
      'USAGE',
      `${cmd.name} has no option ${opt}` +
        (elsewhere.length ? ` (${opt} is an option of ${elsewhere.join(', ')})` : '') +
        `; its options: ${known.length ? known.join(', ') : 'none besides --json, --debug, --help'} (bpf-ts help ${cmd.name})`,
    );
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const spec = cmd.options[name];
    if (spec?.type === 'string') return new BpfError('USAGE', `${opt} needs a value: ${opt} ${(await help()).optionHelp(cmd.name, name)?.arg ?? 'VALUE'} (bpf-ts help ${cmd.name})`);
    return new BpfError('USAGE', `${opt} takes no value (bpf-ts help ${cmd.name})`);
  }
  return new BpfError('USAGE', `${cmd.name}: cannot read the options (usage: ${cmd.usage})`);
}

export async function run(argv: string[], io: { out?: (s: string) => void; err?: (s: string) => void } = {}): Promise<number> {
  const out = io.out ?? writeStdout;
  const err = io.err ?? writeStderr;
  // The completion script's call-back: candidates only, never an error (complete.ts).
  if (argv[0] === '__complete') {
    const found = await import('./complete.js').then(
      (m) => m.completeWords(argv.slice(1)),
      () => [],
    );
    if (found.length) out(found.join('\n') + '\n');
    return 0;
  }
  const debug = argv.includes('--debug');
  // The real CLI process: signals, closed pipes and uncaught errors run the cleanups (lifecycle.ts).
  if (!io.out && !io.err) wireProcessExitPaths({ debug });
  const json = argv.includes('--json');
  const ctx: CommandContext = {
    json,
    debug,
    print: (line) => out(line + '\n'),
    printJson: (v) => out(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n'),
    warn: (line) => err(`bpf-ts: warning: ${line}\n`),
  };
  try {
    // Commands may have a sub-command word ("map dump", "prog list"): those
    // are handled by the command itself as its first positional.
    const first = argv.find((a) => !a.startsWith('-'));
    if (!first && (argv.includes('--version') || argv.includes('-V'))) {
      if (json) ctx.printJson({ version: version() });
      else out(`bpf-ts ${version()}\n`);
      return 0;
    }
    if (!first) {
      out(usage() + '\n');
      return argv.includes('--help') || argv.includes('-h') ? 0 : 1;
    }
    if (first === 'help') {
      const topic = argv[argv.indexOf(first) + 1];
      if (topic === '--all') {
        out((await help()).optionsReference(await loadCommands()) + '\n');
        return 0;
      }
      if (topic === undefined) {
        out(usage() + '\n');
        return 0;
      }
      const about = findCommand(topic);
      if (!about) throw new BpfError('USAGE', `no command "${topic}" to help with (commands: ${commands.map((c) => c.name).join(', ')})`);
      out((await help()).commandHelp(await about.load()) + '\n');
      return 0;
    }
    if (first === 'completion') {
      const { completionScript } = await import('./completion.js');
      out(completionScript(argv[argv.indexOf(first) + 1] ?? '', await loadCommands()) + '\n');
      return 0;
    }
    const entry = findCommand(first);
    if (!entry) throw new BpfError('USAGE', `unknown command "${first}" (try bpf-ts --help)`);
    // Imported on use: only this command's modules load (fast start-up).
    const cmd = await entry.load();
    const rest = negativeValues(argv.slice(argv.indexOf(first) + 1).concat(argv.slice(0, argv.indexOf(first))), cmd.options);
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw await parseError(cmd, e);
    }
    if (parsed.values.help) {
      out((await help()).commandHelp(cmd) + '\n');
      return 0;
    }
    return await cmd.run(parsed.positionals, parsed.values as OptionValues<OptionSpec>, ctx);
  } catch (e) {
    // Undo what the command left half-done before saying why it failed.
    runCleanups('error');
    const isBpf = e instanceof BpfError;
    const message = e instanceof Error ? e.message : String(e);
    const line = isBpf ? message : `internal error: ${message}`;
    if (json) out(JSON.stringify({ error: { code: isBpf ? e.code : 'INTERNAL', message, ...errorExtras(e) } }) + '\n');
    err(`bpf-ts: ${line.split('\n')[0]}\n`);
    if (debug && e instanceof Error) err((e.stack ?? '') + '\n');
    else if (isBpf && e.details) err(e.details.replace(/\n?$/, '\n'));
    return 1;
  }
}

/** What a --json error carries beyond code and message: the verifier's log lines and where it stopped. */
function errorExtras(e: unknown): Record<string, unknown> {
  if (!(e instanceof BpfError)) return {};
  const x = e as BpfError & { log?: unknown; instruction?: unknown; sourceLine?: { fileName?: string; line?: number; source?: string } };
  const extras: Record<string, unknown> = {};
  if (typeof x.log === 'string' && x.log.trim()) extras.verifierLog = x.log.trimEnd().split('\n');
  if (typeof x.instruction === 'number' && x.instruction >= 0) extras.instruction = x.instruction;
  if (x.sourceLine?.fileName) extras.sourceLine = { file: x.sourceLine.fileName, line: x.sourceLine.line, source: x.sourceLine.source?.trim() };
  if (e.details) extras.details = e.details;
  return extras;
}
