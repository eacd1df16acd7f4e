// The table of CLI commands, one line each; every command lives in src/cli and calls its stage's engine.

import type { Command } from './command.ts';
import { consoleBuildCommand } from './console.ts';
import { forwardResetCommand, forwardStatusCommand } from './forward.ts';
import { historyCommand } from './history.ts';
import { importCommand } from './import.ts';
import { exportCommand, verifyCommand } from './integrity.ts';
import { k8sWebhookConfigCommand } from './k8s.ts';
import { keygenCommand } from './keygen.ts';
import { migrateCommand } from './migrate.ts';
import { migrateDataCommand } from './migrate-data.ts';
import { policyTestCommand } from './policy-test.ts';
import { queryCommand } from './query.ts';
import { rulesBacktestCommand, rulesCheckCommand, rulesTestCommand } from './rules.ts';
import { serveCommand } from './serve.ts';
import { shipCommand } from './ship.ts';
import { tailCommand } from './tail.ts';
import { tokenHashCommand } from './token.ts';

export const commands: Command[] = [
  serveCommand,
  queryCommand,
  tailCommand,
  historyCommand,
  importCommand,
  policyTestCommand,
  rulesTestCommand,
  rulesCheckCommand,
  rulesBacktestCommand,
  migrateCommand,
  migrateDataCommand,
  tokenHashCommand,
  consoleBuildCommand,
  verifyCommand,
  exportCommand,
  keygenCommand,
  shipCommand,
  k8sWebhookConfigCommand,
  forwardStatusCommand,
  forwardResetCommand,
];
