// The table of CLI commands. Each stage contributes its commands here, one line each.

import { exportCommand, verifyCommand } from '../integrity/index.ts';
import { rulesBacktestCommand } from '../rules/backtest.ts';
import { rulesCheckCommand, rulesTestCommand } from '../rules/cli.ts';
import type { Command } from './command.ts';
import { consoleBuildCommand } from './console.ts';
import { importCommand } from './import.ts';
import { k8sWebhookConfigCommand } from './k8s.ts';
import { migrateCommand } from './migrate.ts';
import { migrateDataCommand } from './migrate-data.ts';
import { policyTestCommand } from './policy-test.ts';
import { queryCommand } from './query.ts';
import { serveCommand } from './serve.ts';
import { shipCommand } from './ship.ts';
import { tailCommand } from './tail.ts';
import { tokenHashCommand } from './token.ts';

export const commands: Command[] = [
  serveCommand,
  queryCommand,
  tailCommand,
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
  shipCommand,
  k8sWebhookConfigCommand,
];
