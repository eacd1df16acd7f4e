// Checks an untyped sink configuration (from YAML or JSON) against the configuration table's sink spec (src/config,
// SINK), so that a typo or a bad value is refused with the exact key at fault. `SinkConfigError.path` holds the
// keys, for a YAML layer to turn into a line and column (the `yaml` package's `doc.getIn(path, true).range`).
import { checkValue, SINK, type SinkSpecConfig } from '../config/index.ts';
import type { SinkConfig } from './types.ts';

export class SinkConfigError extends Error {
  readonly path: (string | number)[];
  constructor(path: (string | number)[], problem: string) {
    super(`${formatPath(path)}: ${problem}`);
    this.name = 'SinkConfigError';
    this.path = path;
  }
}

function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

// The table's type and the sinks' own types are the same shape: a change to one that the other lacks fails here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _sameShape: Same<SinkSpecConfig, SinkConfig> = true;
void _sameShape;

/** Validates one sink's configuration; `at` is where it sits in the enclosing document. */
export function parseSinkConfig(value: unknown, at: (string | number)[] = ['sink']): SinkConfig {
  const { value: checked, problems } = checkValue(value, SINK, at);
  if (problems.length) throw new SinkConfigError(problems[0]!.path, problems[0]!.message);
  return checked as SinkConfig;
}
