// What every CLI command provides. Options use node:util parseArgs.

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

export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Positional arguments and parsed option values; returns the exit code. */
  run(positionals: string[], values: Record<string, string | boolean | string[] | undefined>, ctx: CommandContext): Promise<number> | number;
}
