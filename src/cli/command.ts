// What every CLI command provides. Options use node:util parseArgs, typed:
// a command declared with defineCommand() gets each option's value as its
// type (string, boolean, string[]), so commands need no casts.
//
// Why parseArgs and not a CLI library: commander 14 adds ~18 ms of CPU to
// every start (+13% over a bare node process, median of 15 paired runs), and
// start-up is held to 1.5x bare node (npm run bench). Help, option text and
// completion are ours anyway (option-help.ts, completion.ts) and parseArgs'
// errors are rewritten in main.ts, so a library would mostly add weight.

import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  json: boolean;
  debug: boolean;
  /** Write a line to stdout. */
  print(line: string): void;
  /** Write a JSON document to stdout. */
  printJson(value: unknown): void;
  /** A warning on stderr ("bpf-ts: warning: …"), with or without --json. */
  warn?(line: string): void;
}

/** The value parseArgs gives one option. */
type OptionValue<O> = O extends { type: 'string'; multiple: true }
  ? string[]
  : O extends { type: 'string' }
    ? string
    : O extends { type: 'boolean'; multiple: true }
      ? boolean[]
      : O extends { type: 'boolean' }
        ? boolean
        : string | boolean | string[] | boolean[];

/** Every command also takes these (main.ts). */
export interface GlobalValues {
  json?: boolean;
  debug?: boolean;
  help?: boolean;
}

/** Parsed values of an option table: each option absent or of its type. */
export type OptionValues<O extends OptionSpec> = { [K in keyof O]?: OptionValue<O[K]> } & GlobalValues;

export interface Command<O extends OptionSpec = OptionSpec> {
  name: string;
  aliases?: string[];
  summary: string;
  usage: string;
  options: O;
  /** Positional arguments and parsed option values; returns the exit code. */
  run(positionals: string[], values: OptionValues<O>, ctx: CommandContext): Promise<number> | number;
}

/** A command whose run() sees its options typed (the table is read as literal types). */
export function defineCommand<const O extends OptionSpec>(command: Command<O>): Command<O> {
  return command;
}
