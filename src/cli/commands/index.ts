// Every command the CLI knows, in the order --help lists them.
import type { Command } from '../command.js';
import { inspect } from './inspect.js';
import { map } from './map.js';
import { prog } from './prog.js';
import { testRun } from './test-run.js';

export const commands: Command[] = [inspect, testRun, map, prog];
