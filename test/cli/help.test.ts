// The CLI explains itself: every option of every command has a one-line
// description (so an option added later without one fails here), --help lists
// them all, docs/cli.md carries the same reference, parser errors are in the
// tool's words, and the completion script knows every command and option.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/cli/command.js';
import { commands as entries } from '../../src/cli/commands/index.js';
import { loadCommands } from '../../src/cli/main.js';
import { commandHelp, optionHelp, optionsReference } from '../../src/cli/option-help.js';
import { cli } from '../helpers/cli.js';

let commands: Command[] = [];
beforeAll(async () => {
  commands = await loadCommands();
});

describe('help', () => {
  it('every option of every command has a description', () => {
    const missing = commands.flatMap((c) =>
      Object.keys(c.options)
        .filter((o) => !optionHelp(c.name, o)?.desc)
        .map((o) => `${c.name} --${o}`),
    );
    expect(missing).toEqual([]);
  });

  it.each(entries.map((e) => [e.name] as const))('%s --help lists each option once, with its description and default', async (name) => {
    const c = commands.find((x) => x.name === name)!;
    const r = await cli(name, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(commandHelp(c) + '\n');
    for (const o of [...Object.keys(c.options), 'json', 'debug', 'help']) {
      const h = optionHelp(name, o)!;
      // The option list follows the usage and summary lines (a usage may carry notes of its own).
      const body = r.stdout.slice(r.stdout.indexOf(`\n${c.summary}\n`) + c.summary.length + 2);
      const lines = body.split('\n').filter((l) => new RegExp(`^  (-\\w, )?--${o}(\\s|$)`).test(l));
      expect(lines, `--${o}`).toHaveLength(1);
      const text = body.slice(body.indexOf(lines[0]!)).split('\n').slice(0, 2).join(' ');
      expect(text, `--${o}`).toContain(h.desc);
      if (h.default) expect(text, `--${o}`).toContain(`(default: ${h.default})`);
    }
    // `bpf-ts help COMMAND` says the same.
    expect((await cli('help', name)).stdout).toBe(r.stdout);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(await cli('--version')).toMatchObject({ code: 0, stdout: `bpf-ts ${version}\n` });
    expect((await cli('--version', '--json')).json()).toEqual({ version });
  });

  it('docs/cli.md carries the option reference of the command definitions', () => {
    const doc = readFileSync('docs/cli.md', 'utf8');
    const a = doc.indexOf('<!-- options:begin -->\n');
    const b = doc.indexOf('<!-- options:end -->');
    expect(a).toBeGreaterThan(0);
    // Regenerate with: node bin/bpf-ts.js help --all (between the markers).
    expect(doc.slice(a + '<!-- options:begin -->\n'.length, b)).toBe(optionsReference(commands) + '\n');
    for (const c of commands) for (const o of Object.keys(c.options)) expect(doc.slice(a, b), `${c.name} --${o}`).toContain(`\`--${o}`);
  });
});

describe('parser errors are in our words', () => {
  const noNodeText = (s: string) => expect(s).not.toMatch(/Unknown option '|argument missing|To specify a positional|does not take an argument/);

  it('run --tc points to load --tc', async () => {
    const r = await cli('run', 'x.o', '--tc', 'eth0');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('bpf-ts: run attaches XDP programs, socket filters, netfilter programs or tracing programs; for TC use load --tc\n');
  });

  it('an unknown option names the command, its options and where the option belongs', async () => {
    const r = await cli('show', '--link');
    expect(r.stderr).toBe('bpf-ts: show has no option --link (--link is an option of load); its options: --netns, --cgroup, --effective, --tree, --all (bpf-ts help show)\n');
    noNodeText(r.stderr);
  });

  it('a missing value and a value given to a switch', async () => {
    const a = await cli('load', 'x.o', '--xdp');
    expect(a.stderr).toBe('bpf-ts: --xdp needs a value: --xdp IFACE (bpf-ts help load)\n');
    const b = await cli('load', 'x.o', '--xdp', 'lo', '--link=yes');
    expect(b.stderr).toBe('bpf-ts: --link takes no value (bpf-ts help load)\n');
    noNodeText(a.stderr + b.stderr);
    const j = await cli('show', '--nope', '--json');
    expect(j.json()).toEqual({ error: { code: 'USAGE', message: expect.stringContaining('show has no option --nope') } });
  });
});

describe('completion', () => {
  const complete = (script: string, words: string[]): string[] => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfts-compl-'));
    try {
      const f = join(dir, 'c.sh');
      writeFileSync(f, script);
      const cmd = `source ${f}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _bpf_ts; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', cwd: dir }).split('\n').filter(Boolean);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('bash: commands, every option of each command, sub-commands, values and interface names', async () => {
    const r = await cli('completion', 'bash');
    expect(r.code).toBe(0);
    execFileSync('bash', ['-n'], { input: r.stdout });
    expect(complete(r.stdout, ['bpf-ts', ''])).toEqual(expect.arrayContaining([...commands.map((c) => c.name), 'help', 'completion']));
    for (const c of commands) {
      expect(complete(r.stdout, ['bpf-ts', c.name, '--']).sort(), c.name).toEqual([...Object.keys(c.options), 'json', 'debug', 'help'].map((o) => `--${o}`).sort());
    }
    expect(complete(r.stdout, ['bpf-ts', 'map', 'd'])).toEqual(['dump', 'delete']);
    expect(complete(r.stdout, ['bpf-ts', 'load', 'x.o', '--mode', 's'])).toEqual(['skb']);
    // Interface names come from the system: lo is in every namespace.
    expect(complete(r.stdout, ['bpf-ts', 'load', 'x.o', '--xdp', 'l'])).toContain('lo');
  });

  it('zsh wraps the same completion; an unknown shell is a usage error', async () => {
    const z = await cli('completion', 'zsh');
    expect(z.stdout.startsWith('#compdef bpf-ts\n')).toBe(true);
    expect(z.stdout).toContain('bashcompinit');
    expect(z.stdout).toContain('complete -F _bpf_ts bpf-ts');
    const f = await cli('completion', 'fish');
    expect(f).toMatchObject({ code: 1, stderr: 'bpf-ts: completion for "fish": give bash or zsh (bpf-ts completion bash)\n' });
  });
});
