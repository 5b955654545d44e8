import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "@jest/globals";
import { checkDocs, docFiles, type Report } from "../src/check.js";
import { findCommands } from "../src/commands.js";
import { readMarkdown, slug } from "../src/markdown.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const trees: string[] = [];
afterAll(() => {
  for (const dir of trees) rmSync(dir, { recursive: true, force: true });
});

const ROOT_PACKAGE = JSON.stringify({
  name: "tree",
  scripts: { test: "jest", "bench:proxy": "x", demo: "x" },
});
const WEB_PACKAGE = JSON.stringify({ name: "@tree/web", scripts: { build: "tsc", dev: "x" } });

const GOOD_README = `# tree

See [configuration](docs/configuration.md#dns_refresh-5s), [the top](#tree) and
[the web app](apps/web), ![a picture](docs/picture.png), [a site](https://example.com/x.md).

\`\`\`sh
pnpm install && pnpm test   # a comment: pnpm nothing
SOAK=1 pnpm bench:proxy
pnpm demo -- --fail app2
pnpm --filter @tree/web build
pnpm --filter ./apps/web dev
\`\`\`

Run \`pnpm run test\` or \`pnpm dlx cowsay\`; \`pnpm <script>\` is a placeholder.

[ref]: docs/configuration.md
`;

const GOOD_CONFIGURATION = `# Configuration

## \`DNS_REFRESH\` (5s)

## Limits

## Limits

Back to [the second Limits](#limits-1) or [up](../README.md#tree).

    indented: [not checked as code, checked as a link](../apps/web/README.md)
`;

/** A small workspace whose docs are all correct; `edit` breaks one thing. */
function tree(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), "docs-check-test-"));
  trees.push(root);
  const all: Record<string, string> = {
    "package.json": ROOT_PACKAGE,
    "pnpm-workspace.yaml": 'packages:\n  - "apps/*"\n\nallowBuilds:\n  esbuild: true\n',
    "apps/web/package.json": WEB_PACKAGE,
    "apps/web/README.md": "# web\n\nUp: [README](../../README.md).\n",
    "README.md": GOOD_README,
    "docs/configuration.md": GOOD_CONFIGURATION,
    "docs/picture.png": "",
    "apps/web/node_modules/x/README.md": "[broken](nowhere.md)\n",
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const messages = (report: Report) =>
  report.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);

describe("a tree whose docs are right", () => {
  it("reads the root README, docs/ and package READMEs (not installed packages) and finds nothing", () => {
    const root = tree();
    expect(docFiles(root)).toEqual(["README.md", "apps/web/README.md", "docs/configuration.md"]);
    const report = checkDocs(root);
    expect(messages(report)).toEqual([]);
    expect(report.links).toBe(9);
    expect(report.commands).toBe(9);
  });
});

describe("a broken link", () => {
  it("to a file that does not exist is reported with its file and line", () => {
    const root = tree({
      "docs/configuration.md": `${GOOD_CONFIGURATION}\nSee [operations](operations.md).\n`,
    });
    expect(messages(checkDocs(root))).toEqual([
      "docs/configuration.md:13: link operations.md: no such file or folder (docs/operations.md)",
    ]);
  });

  it("to a heading that does not exist, in another file or the same one", () => {
    const root = tree({
      "README.md": GOOD_README.replace("#dns_refresh-5s", "#dns-refresh").replace(
        "[the top](#tree)",
        "[the top](#top)",
      ),
    });
    expect(messages(checkDocs(root))).toEqual([
      "README.md:3: link docs/configuration.md#dns-refresh: no heading or anchor #dns-refresh in docs/configuration.md",
      "README.md:3: link #top: no heading or anchor #top in README.md",
    ]);
  });

  it("out of the repository, or as an image or a reference definition", () => {
    const root = tree({
      "apps/web/README.md": "[up too far](../../../elsewhere.md) ![x](shot.png)\n\n[r]: gone.md\n",
    });
    expect(messages(checkDocs(root))).toEqual([
      "apps/web/README.md:1: link ../../../elsewhere.md: points outside the repository",
      "apps/web/README.md:1: link shot.png: no such file or folder (apps/web/shot.png)",
      "apps/web/README.md:3: link gone.md: no such file or folder (apps/web/gone.md)",
    ]);
  });

  it("inside code is not a link", () => {
    const root = tree({
      "apps/web/README.md": "`[x](gone.md)`\n\n```md\n[y](gone.md)\n```\n",
    });
    expect(messages(checkDocs(root))).toEqual([]);
  });
});

describe("an unknown pnpm command", () => {
  it("in a code block or inline code is reported", () => {
    const root = tree({
      "apps/web/README.md":
        "Run `pnpm foo`.\n\n```sh\npnpm install\npnpm bench:nothing -- -x\n```\n",
    });
    expect(messages(checkDocs(root))).toEqual([
      "apps/web/README.md:1: pnpm foo: neither a root script nor a pnpm command (root scripts: bench:proxy, demo, test)",
      "apps/web/README.md:5: pnpm bench:nothing: neither a root script nor a pnpm command (root scripts: bench:proxy, demo, test)",
    ]);
  });

  it("with --filter: a script the package lacks, or a package that does not exist", () => {
    const root = tree({
      "apps/web/README.md":
        "`pnpm --filter @tree/web test`, `pnpm --filter @tree/api build`, `pnpm run nope`\n",
    });
    expect(messages(checkDocs(root))).toEqual([
      'apps/web/README.md:1: pnpm --filter @tree/web test: no script "test" in @tree/web',
      "apps/web/README.md:1: pnpm --filter @tree/api: no workspace package matches it",
      "apps/web/README.md:1: pnpm nope: neither a root script nor a pnpm command (root scripts: bench:proxy, demo, test)",
    ]);
  });

  it("in prose outside code is not read (pnpm 12 is a version, not a command)", () => {
    const root = tree({ "apps/web/README.md": "Needs pnpm 12 and pnpm itself.\n" });
    expect(messages(checkDocs(root))).toEqual([]);
  });
});

describe("the parts", () => {
  it("makes GitHub's anchors", () => {
    expect(slug("Admin API and metrics")).toBe("admin-api-and-metrics");
    expect(slug("`DNS_REFRESH` (5s)")).toBe("dns_refresh-5s");
    expect(slug("What's tested, and how")).toBe("whats-tested-and-how");
    expect(slug("HTTP/1.1: the engine")).toBe("http11-the-engine");
    expect(slug("[Links](x.md) and **bold**")).toBe("links-and-bold");
    expect([...readMarkdown("# A\n\n## A\n\n### A\n").anchors]).toEqual(["a", "a-1", "a-2"]);
  });

  it("finds each pnpm command up to the end of its shell command", () => {
    expect(findCommands("pnpm install && pnpm dev | tee x; (pnpm -r build) # pnpm no")).toEqual([
      ["install"],
      ["dev"],
      ["-r", "build"],
    ]);
    expect(findCommands("npm i -g pnpm@12.4.2")).toEqual([]);
    expect(findCommands("test/   pnpm test: the tests")).toEqual([["test", "the", "tests"]]);
  });
});

describe("this repository", () => {
  it("has no broken relative link and no unknown pnpm command in its docs", () => {
    expect(messages(checkDocs(repoRoot))).toEqual([]);
  });
});
