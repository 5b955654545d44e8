// What the check reads in a Markdown file: the link targets in its prose, the
// code a reader may copy (inline code spans and fenced blocks), and the
// anchors its headings make. Pure: text in, parts out.

/** A piece of the file and the line it starts on (1-based). */
export interface Located {
  text: string;
  line: number;
}

export interface MarkdownParts {
  /** Link and image targets as written, outside code. */
  links: Located[];
  /** Inline code spans and the lines of fenced code blocks. */
  code: Located[];
  /** The fragments that lead somewhere in the file: heading slugs and explicit ids. */
  anchors: Set<string>;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const HEADING = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const INLINE_LINK = /\]\(\s*(<[^>\n]*>|[^()\s]+)(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)/g;
const REFERENCE = /^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)/gm;
const HTML_TARGET = /<(?:a|img)\b[^>]*?\s(?:href|src)\s*=\s*"([^"]*)"/gi;
const HTML_ANCHOR = /<a\b[^>]*?\s(?:id|name)\s*=\s*"([^"]*)"/gi;

export function readMarkdown(source: string): MarkdownParts {
  const lines = source.split("\n");
  const code: Located[] = [];
  // Prose with fenced lines blanked, so offsets still map to lines.
  const prose: string[] = [];
  let fence: { char: string; length: number } | undefined;
  lines.forEach((line, index) => {
    const opening = FENCE.exec(line);
    if (fence === undefined && opening) {
      fence = { char: opening[1]![0]!, length: opening[1]!.length };
      prose.push("");
    } else if (fence !== undefined) {
      const closing = new RegExp(`^ {0,3}\\${fence.char}{${fence.length},}\\s*$`);
      if (closing.test(line)) fence = undefined;
      else code.push({ text: line, line: index + 1 });
      prose.push("");
    } else prose.push(line);
  });

  const text = prose.join("\n");
  const lineAt = lineFinder(text);
  const spans = codeSpans(text);
  for (const span of spans)
    code.push({
      // A line break inside a code span is a space (CommonMark).
      text: text.slice(span.start + span.ticks, span.end - span.ticks).replace(/\n/g, " "),
      line: lineAt(span.start),
    });
  const masked = mask(text, spans);

  const links: Located[] = [];
  for (const pattern of [INLINE_LINK, REFERENCE, HTML_TARGET])
    for (const match of masked.matchAll(pattern))
      links.push({ text: unbracket(match[1]!), line: lineAt(match.index) });
  links.sort((a, b) => a.line - b.line);

  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose) {
    const heading = HEADING.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of masked.matchAll(HTML_ANCHOR)) anchors.add(match[1]!);

  code.sort((a, b) => a.line - b.line);
  return { links, code, anchors };
}

/**
 * GitHub's anchor for a heading (as github-slugger makes it): the heading's
 * text as rendered, lower-cased, with punctuation other than '-' and '_'
 * removed and each space made a '-'.
 */
export function slug(heading: string): string {
  return heading
    .replace(/<[^>]*>/g, "")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[`*~]/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

interface Span {
  start: number;
  end: number;
  ticks: number;
}

/**
 * Code spans (CommonMark): a run of n backticks up to the next run of
 * exactly n, within one paragraph; a run with no partner is literal text.
 */
function codeSpans(text: string): Span[] {
  const spans: Span[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf("`", at);
    if (open < 0) break;
    let ticks = 0;
    while (text[open + ticks] === "`") ticks++;
    const close = partner(text, open + ticks, ticks);
    if (close === undefined) {
      at = open + ticks;
      continue;
    }
    spans.push({ start: open, end: close + ticks, ticks });
    at = close + ticks;
  }
  return spans;
}

function partner(text: string, from: number, ticks: number): number | undefined {
  const paragraphEnd = text.slice(from).search(/\n[ \t]*\n/);
  const limit = paragraphEnd < 0 ? text.length : from + paragraphEnd;
  let at = from;
  while (at < limit) {
    const next = text.indexOf("`", at);
    if (next < 0 || next >= limit) return undefined;
    let run = 0;
    while (text[next + run] === "`") run++;
    if (run === ticks) return next;
    at = next + run;
  }
  return undefined;
}

/** The text with code spans blanked (newlines kept): links inside code are not links. */
function mask(text: string, spans: Span[]): string {
  let out = "";
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + text.slice(span.start, span.end).replace(/[^\n]/g, " ");
    at = span.end;
  }
  return out + text.slice(at);
}

function lineFinder(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  };
}

const unbracket = (target: string) =>
  target.startsWith("<") && target.endsWith(">") ? target.slice(1, -1) : target;
