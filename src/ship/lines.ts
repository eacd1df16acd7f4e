// Complete lines from a byte offset of a file being written: a last line without its newline is left for later
// (kube-apiserver may be half-way through writing it); a line longer than the limit is skipped — read past in
// chunks, never held whole — and reported, so a runaway line can neither exhaust memory nor stop the agent.
import type { FileHandle } from 'node:fs/promises';

export interface Line {
  text: string;
  /** 1-based line number in the file. */
  line: number;
  /** Byte offset of its first byte. */
  offset: number;
}

export interface SkippedLine {
  line: number;
  offset: number;
  /** Bytes, newline excluded. */
  length: number;
}

export interface Lines {
  lines: Line[];
  skipped: SkippedLine[];
  /** Offset just after the last whole line consumed (read or skipped): where the next read starts. */
  end: number;
  /** Line number of the last line consumed. */
  endLine: number;
  /** Bytes after `end` that do not end in a newline yet (0 when the read stopped at a limit). */
  pending: number;
}

export interface ReadLimits {
  maxLineBytes: number;
  /** Stop after this many lines… */
  maxLines: number;
  /** …or this many bytes of lines. */
  maxBytes: number;
  /** The file is finished (a rotated copy that stopped growing): its unterminated tail is a line too. */
  final?: boolean;
}

const CHUNK = 256 * 1024;

export async function readLines(fh: FileHandle, offset: number, line: number, o: ReadLimits): Promise<Lines> {
  const lines: Line[] = [];
  const skipped: SkippedLine[] = [];
  const chunk = Buffer.allocUnsafe(CHUNK);
  // Bytes read but not consumed yet (an incomplete line), starting at file offset `carryAt`.
  let carry = Buffer.alloc(0);
  let carryAt = offset;
  let readAt = offset;
  let end = offset;
  let endLine = line;
  let bytes = 0;
  // Inside an over-long line since this offset: its bytes are dropped until its newline comes.
  let skippingFrom = -1;
  const full = () => lines.length >= o.maxLines || bytes >= o.maxBytes;
  while (!full()) {
    const { bytesRead } = await fh.read(chunk, 0, CHUNK, readAt);
    if (bytesRead === 0) break;
    readAt += bytesRead;
    const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    let i = 0;
    for (let nl = data.indexOf(10, i); nl >= 0 && !full(); nl = data.indexOf(10, i)) {
      const at = carryAt + i;
      endLine++;
      if (skippingFrom >= 0) {
        skipped.push({ line: endLine, offset: skippingFrom, length: carryAt + nl - skippingFrom });
        skippingFrom = -1;
      } else if (nl - i > o.maxLineBytes) {
        skipped.push({ line: endLine, offset: at, length: nl - i });
      } else {
        lines.push({ text: data.toString('utf8', i, nl), line: endLine, offset: at });
        bytes += nl - i + 1;
      }
      i = nl + 1;
      end = carryAt + i;
    }
    if (full()) break;
    const rest = data.subarray(i);
    if (skippingFrom < 0 && rest.length > o.maxLineBytes) skippingFrom = carryAt + i;
    // Copied: `chunk` is overwritten by the next read.
    carry = skippingFrom >= 0 ? Buffer.alloc(0) : Buffer.from(rest);
    carryAt = skippingFrom >= 0 ? readAt : carryAt + i;
  }
  let pending = full() ? 0 : readAt - end;
  if (o.final && pending > 0) {
    endLine++;
    if (skippingFrom >= 0) skipped.push({ line: endLine, offset: skippingFrom, length: readAt - skippingFrom });
    else lines.push({ text: carry.toString('utf8'), line: endLine, offset: carryAt });
    end = readAt;
    pending = 0;
  }
  return { lines, skipped, end, endLine, pending };
}
