// Entry: check the repository's docs (or the folder given), print every
// problem as file:line, exit 1 when there is one, 2 when the check cannot run.

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkDocs } from "./check.js";

const root = resolve(process.argv[2] ?? fileURLToPath(new URL("../../../", import.meta.url)));

try {
  const report = checkDocs(root);
  for (const problem of report.problems)
    console.log(`${problem.file}:${problem.line}: ${problem.message}`);
  console.log(
    `docs-check: ${report.files.length} files, ${report.links} relative links, ` +
      `${report.commands} pnpm commands: ` +
      (report.problems.length === 0 ? "no problems" : `${report.problems.length} problems`),
  );
  process.exit(report.problems.length === 0 ? 0 : 1);
} catch (error) {
  console.error(`docs-check: ${(error as Error).message}`);
  process.exit(2);
}
