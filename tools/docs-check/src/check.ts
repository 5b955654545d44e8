// The docs check: which files are read, and what is wrong in them.

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { checkCommand, findCommands } from "./commands.js";
import { readMarkdown, type MarkdownParts } from "./markdown.js";
import { readWorkspace } from "./workspace.js";

export interface Problem {
  /** Relative to the root, with '/'. */
  file: string;
  line: number;
  message: string;
}

export interface Report {
  files: string[];
  links: number;
  commands: number;
  problems: Problem[];
}

/** Folders never read: installed, built or generated files. */
const SKIPPED = new Set(["node_modules", "dist", "dist-bench", "coverage", ".git", ".turbo"]);

/** README.md at the root, every Markdown file under docs/, and every other README.md. */
export function docFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      if (entry.name.startsWith(".") || SKIPPED.has(entry.name)) continue;
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name === "README.md" || (path.startsWith("docs/") && path.endsWith(".md")))
        found.push(path);
    }
  };
  walk("");
  return found.sort();
}

export function checkDocs(root: string): Report {
  const workspace = readWorkspace(root);
  const files = docFiles(root);
  const parsed = new Map<string, MarkdownParts>();
  const partsOf = (path: string) => {
    let parts = parsed.get(path);
    if (parts === undefined) parsed.set(path, (parts = readMarkdown(readFileSync(path, "utf8"))));
    return parts;
  };

  const problems: Problem[] = [];
  let links = 0;
  let commands = 0;
  for (const file of files) {
    const path = join(root, file);
    const parts = partsOf(path);
    for (const link of parts.links) {
      const message = checkLink(root, path, link.text, partsOf);
      if (message !== "external") links++;
      if (message !== undefined && message !== "external")
        problems.push({ file, line: link.line, message });
    }
    for (const piece of parts.code)
      for (const words of findCommands(piece.text)) {
        commands++;
        const message = checkCommand(words, workspace);
        if (message !== undefined) problems.push({ file, line: piece.line, message });
      }
  }
  problems.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return { files, links, commands, problems };
}

/**
 * What is wrong with a link target written in `from`: undefined when it
 * resolves, "external" when it is not the check's business (a URL).
 */
function checkLink(
  root: string,
  from: string,
  target: string,
  partsOf: (path: string) => MarkdownParts,
): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return "external";
  const hash = target.indexOf("#");
  const rawPath = (hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, "");
  const anchor = hash < 0 ? undefined : decode(target.slice(hash + 1));
  const path = decode(rawPath);
  if (path === undefined || (anchor === undefined && hash >= 0))
    return `link ${target}: not a valid URL path`;
  const resolved =
    path === "" ? from : path.startsWith("/") ? join(root, path) : resolve(dirname(from), path);
  const inside = relative(root, resolved);
  if (inside.startsWith(`..${sep}`) || inside === "..")
    return `link ${target}: points outside the repository`;
  if (!existsSync(resolved)) return `link ${target}: no such file or folder (${inside})`;
  if (anchor === undefined || anchor === "") return undefined;
  if (statSync(resolved).isDirectory() || !resolved.endsWith(".md")) return undefined;
  if (partsOf(resolved).anchors.has(anchor.toLowerCase())) return undefined;
  return `link ${target}: no heading or anchor #${anchor} in ${inside.split(sep).join("/")}`;
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
