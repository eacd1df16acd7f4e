// From an offset in a YAML scalar's value to its line and column in the file. Conditions are written plain over
// several lines, folded (`>`), literal (`|`) or quoted; walking the value and the source text together, a run of
// blanks and line breaks in the source matches one folded space or newline of the value, and an escape one
// character, so a position inside a ten-line folded condition lands on its line.

import { isScalar, type LineCounter, type Node } from 'yaml';

export interface Position {
  line: number;
  column: number;
}

/** The text of a scalar and where its offsets are in the file. */
export interface Located {
  text: string;
  locate(offset: number): Position | undefined;
}

const WS = /[ \t\r\n]/;

/** Offset in `raw` of value offset `target`, or undefined when the two cannot be walked together. */
function walk(raw: string, value: string, start: number, target: number, quote: string): number | undefined {
  let j = start;
  for (let i = 0; i < value.length; i++) {
    if (i === target) {
      while (j < raw.length && WS.test(raw[j]) && raw[j] !== value[i]) j++;
      return j;
    }
    const c = value[i];
    for (;;) {
      if (j >= raw.length) return undefined;
      if (raw[j] === c && !(quote === '"' && c === '\\') && !(quote === "'" && c === "'")) {
        j++;
        break;
      }
      if ((c === ' ' || c === '\n') && WS.test(raw[j])) {
        while (j < raw.length && WS.test(raw[j])) j++;
        break;
      }
      if (quote === '"' && raw[j] === '\\') {
        const e = raw[j + 1];
        j += e === 'x' ? 4 : e === 'u' ? 6 : e === 'U' ? 10 : 2;
        break;
      }
      if (quote === "'" && raw[j] === "'" && raw[j + 1] === "'") {
        j += 2;
        break;
      }
      if (WS.test(raw[j])) {
        j++;
        continue;
      }
      return undefined;
    }
  }
  return target === value.length ? j : undefined;
}

/** A locator for a scalar node's value (a string); falls back to the scalar's start. */
export function scalarLocated(node: Node | null | undefined, fileText: string, lines: LineCounter): Located {
  const text = isScalar(node) ? String(node.value ?? '') : '';
  const range = node?.range;
  if (!range) return { text, locate: () => undefined };
  const pos = (offset: number): Position => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const raw = fileText.slice(range[0], range[1]);
  const type = isScalar(node) ? node.type : undefined;
  let start = 0;
  let quote = '';
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') start = raw.indexOf('\n') + 1;
  else if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') {
    quote = raw[0];
    start = 1;
  }
  return {
    text,
    locate(offset) {
      const j = start > 0 || quote || type === 'PLAIN' ? walk(raw, text, start, offset, quote) : undefined;
      return pos(range[0] + (j ?? 0));
    },
  };
}

/** Several texts joined by single spaces (Falco's append), located piece by piece. */
export function joined(pieces: readonly Located[]): Located {
  const text = pieces.map((p) => p.text).join(' ');
  return {
    text,
    locate(offset) {
      let start = 0;
      for (const p of pieces) {
        if (offset <= start + p.text.length) return p.locate(Math.max(0, offset - start));
        start += p.text.length + 1;
      }
      const last = pieces[pieces.length - 1];
      return last?.locate(last.text.length);
    },
  };
}
