// The table of CLI commands. Each stage contributes its commands here, one line each.
import type { Command } from './command.ts';
import { policyTestCommand } from './policy-test.ts';

export const commands: Command[] = [policyTestCommand];
