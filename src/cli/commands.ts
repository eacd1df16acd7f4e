// The table of CLI commands. Each stage contributes its commands here, one line each.
import type { Command } from './command.ts';
import { migrateCommand } from './migrate.ts';
import { migrateDataCommand } from './migrate-data.ts';
import { policyTestCommand } from './policy-test.ts';

export const commands: Command[] = [policyTestCommand, migrateCommand, migrateDataCommand];
