// Every command the CLI knows, in the order --help lists them.
import type { Command } from '../command.js';
import { btf } from './btf.js';
import { demo } from './demo.js';
import { detach } from './detach.js';
import { disasm } from './disasm.js';
import { inspect } from './inspect.js';
import { load } from './load.js';
import { map } from './map.js';
import { prog } from './prog.js';
import { run } from './run.js';
import { show } from './show.js';
import { testenv } from './testenv.js';
import { testRun } from './test-run.js';

export const commands: Command[] = [demo, load, detach, show, run, inspect, testRun, map, prog, btf, testenv, disasm];
