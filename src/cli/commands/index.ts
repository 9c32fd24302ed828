// Every command the CLI knows, in the order --help lists them.
import type { Command } from '../command.js';
import { inspect } from './inspect.js';

export const commands: Command[] = [inspect];
