// Falco's rule priorities (syslog severities), most severe first. Rules files spell them in any case, and "INFO"
// is accepted for INFORMATIONAL (falco_common::parse_priority); Falco prints them capitalized ("Warning").

export const FALCO_PRIORITIES = [
  'EMERGENCY',
  'ALERT',
  'CRITICAL',
  'ERROR',
  'WARNING',
  'NOTICE',
  'INFORMATIONAL',
  'DEBUG',
] as const;
export type FalcoPriority = (typeof FALCO_PRIORITIES)[number];

/** The priority a rules file (or falco.yaml's `priority:`) names, or undefined when it names none. */
export function parseFalcoPriority(text: string): FalcoPriority | undefined {
  const up = text.toUpperCase();
  if (up === 'INFO') return 'INFORMATIONAL';
  return (FALCO_PRIORITIES as readonly string[]).includes(up) ? (up as FalcoPriority) : undefined;
}

/** 0 for EMERGENCY … 7 for DEBUG: a rule reaches a minimum priority when its rank is not greater. */
export function falcoPriorityRank(p: FalcoPriority): number {
  return FALCO_PRIORITIES.indexOf(p);
}

/** As Falco prints it in outputs and JSON alerts: "Warning", "Informational". */
export function formatFalcoPriority(p: FalcoPriority): string {
  return p[0] + p.slice(1).toLowerCase();
}
