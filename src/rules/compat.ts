// `vigil rules check --compat kubesphere`: the rules whose result in Vigil differs from KubeSphere's, because
// Vigil does what KubeSphere documents where KubeSphere's code does otherwise (kubesphere-auditing.md §1.1, §2),
// plus the KubeSphere quirks Vigil keeps that usually surprise rule authors.

import { canonicalText } from './compile.ts';
import type { CompiledRule, RuleSet } from './load.ts';
import { type Expr, ParseError, parseCondition } from './parser.ts';

export interface CompatFinding {
  rule: string;
  file: string;
  /** `differs`: Vigil and KubeSphere give different results; `note`: same result, likely not what was meant. */
  kind: 'differs' | 'note';
  reason: string;
}

function visit(e: Expr, f: (e: Expr) => void): void {
  f(e);
  if (e.kind === 'and' || e.kind === 'or') {
    visit(e.left, f);
    visit(e.right, f);
  } else if (e.kind === 'not' || e.kind === 'group') visit(e.expr, f);
}

/** The condition as KubeSphere expands it: once, textually, macros unparenthesized, list items quoted raw. */
function kubesphereText(rs: RuleSet, r: CompiledRule, nested: string[]): string {
  return (r.item.condition ?? '').replace(/\$\{(.*?)\}/g, (whole, name: string) => {
    const hit = rs.lookup(r.resource.name, name);
    if (!hit) return whole;
    const it = hit.item;
    if (it.type === 'macro') {
      if ((it.macro ?? '').includes('${')) nested.push(`${hit.resource.name}.${it.name}`);
      return it.macro ?? '';
    }
    if (it.type === 'alias') return it.alias ?? '';
    if (it.type === 'list') return `(${(it.list ?? []).map((v) => `"${v}"`).join(',')})`;
    return whole;
  });
}

export function checkCompat(rs: RuleSet): CompatFinding[] {
  const out: CompatFinding[] = [];
  for (const r of rs.rules) {
    const seen = new Set<string>();
    const add = (kind: CompatFinding['kind'], reason: string) => {
      if (seen.has(reason)) return;
      seen.add(reason);
      out.push({ rule: r.name, file: r.resource.file, kind, reason });
    };

    const priority = r.item.priority ?? '';
    if (!['DEBUG', 'INFO', 'WARNING'].includes(priority)) {
      add(
        'note',
        `priority ${JSON.stringify(priority)} is not DEBUG, INFO or WARNING (case-sensitive): it ranks below DEBUG, so the rule never alerts and archives only from an alerting resource`,
      );
    }

    const nested: string[] = [];
    const ks = kubesphereText(rs, r, nested);
    if (nested.length) {
      add(
        'differs',
        `macro ${nested.join(', ')} uses other references: KubeSphere does not expand \${…} inside macros, so the rule never matches there; Vigil expands them`,
      );
    } else if (ks !== r.item.condition) {
      try {
        const ksExpr = parseCondition({ text: ks, owner: r.name, member: 'condition' }, { resolve: () => undefined });
        const a = canonicalText(ksExpr);
        const b = canonicalText(r.expr);
        if (a !== b) {
          add('differs', `KubeSphere pastes macros without parentheses: it reads "${ks}" as ${a}; Vigil reads ${b}`);
        }
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        add(
          'differs',
          `KubeSphere's textual expansion "${ks}" does not parse (${err.message}); Vigil expands into the tree`,
        );
      }
    }

    visit(r.expr, (e) => {
      if (e.kind !== 'test' && e.kind !== 'bare') return;
      const p = e.path;
      const f = p.field;
      if (f.misspelled) {
        add(
          'differs',
          `${p.text}: KubeSphere's rule map spells it ${f.canonical} and matches keys exactly, so it never matches there; Vigil matches either spelling`,
        );
      } else if (f.caseGuess) {
        add(
          'differs',
          `${p.text}: KubeSphere matches request/response keys exactly (Kubernetes keys start lower-case); Vigil ignores case`,
        );
      }
      if (f.nestedSelector) {
        add(
          'differs',
          `${p.text}: KubeSphere's engine errors when an array element lacks the bracketed key (so the rule fails on such events); Vigil treats that element as not matching`,
        );
      }
      if (/[A-Za-z0-9_]-/.test(p.text)) {
        add('differs', `${p.text}: KubeSphere's 2020 engine (KubeSphere 3.x) drops "-" from field names`);
      }
      if (e.kind !== 'test') return;
      if ((e.negated && e.op !== 'exists') || e.op === '!=') {
        if (f.maybeMissing) {
          const op = e.negated ? `not ${e.op}` : e.op;
          add(
            'note',
            `${p.text} ${op} …: false when ${p.text} is absent (KubeSphere and Vigil alike); write "not (${p.text} ${e.negated ? e.op : '='} …)" to include events without it`,
          );
        }
      }
      if (e.list && e.items?.some((i) => i.kind === 'string' && /["\\]/.test(i.value))) {
        add(
          'differs',
          `list ${e.list} has an item with " or \\: KubeSphere pastes it unescaped and the condition breaks; Vigil uses the items as they are`,
        );
      }
      for (const lit of e.literal ? [e.literal] : (e.items ?? [])) {
        if (lit.kind === 'string' && !e.list && /\\["\\]/.test(lit.raw)) {
          add(
            'differs',
            `${lit.raw}: KubeSphere keeps the backslash of \\" and \\\\ in strings; Vigil reads them as escapes`,
          );
        }
      }
    });
  }
  return out;
}
