// What a report says about the build it measured.

import { execFileSync } from "node:child_process";
import { repo } from "./processes.js";

/** "commit <short hash>", and whether the working tree differed from it. */
export function commit(): string {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
  const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
  return `commit ${git("rev-parse", "--short", "HEAD")}${dirty ? " with uncommitted changes" : ""}`;
}
