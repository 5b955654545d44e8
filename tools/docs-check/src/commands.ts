// `pnpm ...` commands found in code: each must name a pnpm command, a root
// script, or (with --filter) a script of the packages it selects.

import type { Workspace, WorkspacePackage } from "./workspace.js";

/**
 * pnpm's own commands and their aliases, as `pnpm help` lists them (pnpm
 * 12.4.2). Not here: `test` (`t`, `tst`), `start`, `stop` and `restart`,
 * which run the script of that name, and `run`, whose script must exist.
 */
const BUILT_INS = new Set([
  "access",
  "add",
  "adduser",
  "approve-builds",
  "audit",
  "bin",
  "bugs",
  "c",
  "cache",
  "cat-file",
  "cat-index",
  "change",
  "ci",
  "clean",
  "clean-install",
  "completion",
  "config",
  "create",
  "dedupe",
  "deploy",
  "deprecate",
  "dislink",
  "dist-tag",
  "dist-tags",
  "dlx",
  "docs",
  "doctor",
  "edit",
  "env",
  "exec",
  "fetch",
  "find",
  "find-hash",
  "get",
  "help",
  "home",
  "i",
  "ic",
  "ignored-builds",
  "import",
  "info",
  "init",
  "install",
  "install-clean",
  "install-test",
  "issues",
  "it",
  "la",
  "lane",
  "licences",
  "licenses",
  "link",
  "list",
  "ll",
  "ln",
  "login",
  "logout",
  "ls",
  "m",
  "multi",
  "outdated",
  "owner",
  "owners",
  "pack",
  "pack-app",
  "patch",
  "patch-commit",
  "patch-remove",
  "peers",
  "ping",
  "pipeline",
  "pkg",
  "prefix",
  "profile",
  "prune",
  "publish",
  "purge",
  "rb",
  "rebuild",
  "recursive",
  "remove",
  "repo",
  "rm",
  "root",
  "rt",
  "runtime",
  "s",
  "sbom",
  "se",
  "search",
  "self-update",
  "set",
  "set-script",
  "setup",
  "shim",
  "show",
  "ss",
  "stage",
  "star",
  "stars",
  "store",
  "team",
  "token",
  "un",
  "undeprecate",
  "uni",
  "uninstall",
  "unlink",
  "unpublish",
  "unstar",
  "up",
  "update",
  "upgrade",
  "v",
  "version",
  "view",
  "whoami",
  "why",
  "with",
  "xmas",
]);

/** Options that take the next word as their value. */
const WITH_VALUE = new Set(["--filter", "-F", "--dir", "-C", "--reporter", "--loglevel"]);
/** Options after which pnpm does nothing else. */
const ALONE = new Set(["--version", "-v", "--help", "-h"]);

/**
 * The words after each `pnpm` in a piece of code, up to the end of that
 * shell command (`&&`, `||`, `;`, `|`, `>`, `)` or a `#` comment).
 */
export function findCommands(code: string): string[][] {
  const commands: string[][] = [];
  const text = code.replace(/(^|\s)#.*$/gm, "$1");
  for (const match of text.matchAll(/(?:^|[\s;&|($])pnpm(?=\s|$)/g)) {
    const rest = text.slice(match.index + match[0].length);
    const end = rest.search(/&&|\|\||[;|>)\n]/);
    const words = (end < 0 ? rest : rest.slice(0, end))
      .trim()
      .split(/\s+/)
      .filter((word) => word !== "")
      // Quotes around a word, and punctuation after it in prose-like code ("pnpm test: ...").
      .map((word) => word.replace(/^["']|["']$/g, "").replace(/[,.:]$/, ""));
    commands.push(words);
  }
  return commands;
}

/** What is wrong with `pnpm <words>`, or undefined when it runs something that exists. */
export function checkCommand(words: readonly string[], workspace: Workspace): string | undefined {
  const filters: string[] = [];
  let recursive = false;
  let at = 0;
  for (; at < words.length && words[at]!.startsWith("-"); at++) {
    const word = words[at]!;
    if (ALONE.has(word)) return undefined;
    if (word === "--filter" || word === "-F") filters.push(words[at + 1] ?? "");
    else if (word.startsWith("--filter=")) filters.push(word.slice("--filter=".length));
    else if (word === "-r" || word === "--recursive") recursive = true;
    if (WITH_VALUE.has(word)) at++;
  }
  let name = words[at];
  if (name === "run" || name === "run-script") {
    name = words.slice(at + 1).find((word) => !word.startsWith("-"));
    if (name === undefined) return undefined; // `pnpm run` lists the scripts
  }
  const selected: WorkspacePackage[] = [];
  for (const filter of filters) {
    const matched = select(filter, workspace);
    if (matched.length === 0) return `pnpm --filter ${filter}: no workspace package matches it`;
    selected.push(...matched);
  }
  if (name === undefined || isPlaceholder(name)) return undefined;
  if (BUILT_INS.has(name)) return undefined;
  const script = name === "t" || name === "tst" ? "test" : name;
  if (filters.length > 0) {
    if (selected.some((p) => p.scripts.has(script))) return undefined;
    return `pnpm --filter ${filters.join(" --filter ")} ${name}: no script "${script}" in ${selected.map((p) => p.name).join(", ")}`;
  }
  if (recursive) {
    if (workspace.packages.some((p) => p.scripts.has(script))) return undefined;
    return `pnpm -r ${name}: no workspace package has a script "${script}"`;
  }
  if (workspace.rootScripts.has(script)) return undefined;
  return `pnpm ${name}: neither a root script nor a pnpm command (root scripts: ${[...workspace.rootScripts].sort().join(", ")})`;
}

/** `<script>`, `foo…`: a placeholder in the prose, not a command to run. */
const isPlaceholder = (word: string) => /[<>…]|\.\.\./.test(word);

/** The packages a --filter selects: by name (globs with *), or by folder (./apps/proxy). */
function select(filter: string, workspace: Workspace): WorkspacePackage[] {
  const selector = filter.replace(/^\.\.\.|\.\.\.$/g, "").replace(/^\^/, "");
  if (selector.startsWith("./") || selector.startsWith("{")) {
    const dir = selector
      .replace(/^\{|\}$/g, "")
      .replace(/^\.\//, "")
      .replace(/\/$/, "");
    return workspace.packages.filter((p) => p.dir === dir || p.dir.startsWith(`${dir}/`));
  }
  const pattern = new RegExp(
    `^${selector.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`,
  );
  return workspace.packages.filter((p) => pattern.test(p.name));
}
