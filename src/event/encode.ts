// The one table of output formats: how a stored event is written for someone else to read. Forwarding
// (src/forward) sends events in these, `vigil query -o` and `vigil tail -o` print them, and the console's export
// can offer them, so that what a SIEM receives is what a person downloads.
import { encodeCadf } from './cadf.ts';
import { encodeKubernetesEvent } from './kubernetes.ts';
import type { AuditEvent } from './model.ts';
import { encodeOcsf } from './ocsf.ts';

export interface OutputFormat {
  /** For usage lines and docs. */
  describe: string;
  /** The event as a JSON value (one line of JSON lines, one syslog message, one bus message…). */
  encode(e: AuditEvent & { id?: string }): Record<string, unknown>;
}

export const OUTPUT_FORMATS = {
  kubernetes: {
    describe: 'the audit.k8s.io/v1 Event (kind and apiVersion included)',
    encode: (e) => encodeKubernetesEvent(e),
  },
  cadf: { describe: 'the DMTF CADF event, as pycadf writes it', encode: (e) => encodeCadf(e) },
  ocsf: { describe: 'OCSF 1.8.0 API Activity (class 6003)', encode: encodeOcsf },
} as const satisfies Record<string, OutputFormat>;

export type OutputFormatName = keyof typeof OUTPUT_FORMATS;
export const OUTPUT_FORMAT_NAMES = Object.keys(OUTPUT_FORMATS) as OutputFormatName[];

export function isOutputFormat(name: string): name is OutputFormatName {
  return Object.hasOwn(OUTPUT_FORMATS, name);
}
