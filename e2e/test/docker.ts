// The images global-setup built, and compose through the Docker CLI.

import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export type Service = "proxy" | "app1" | "app2" | "app3";

const run = promisify(execFile);

/** The tag global-setup gave this run's images. */
export const IMAGE_TAG = process.env.STICKYRING_E2E_TAG!;
export const image = (service: Service) => `stickyring/${service}:${IMAGE_TAG}`;

/** `docker compose` (v2) when present, else `docker-compose` (v1). */
async function composeCommand(): Promise<string[]> {
  try {
    await run("docker", ["compose", "version"]);
    return ["docker", "compose"];
  } catch {
    return ["docker-compose"];
  }
}

export async function compose(
  project: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const [command, ...prefix] = await composeCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(command!, [...prefix, "-p", project, "-f", "infra/compose.yml", ...args], {
      cwd: REPO,
      env: { ...process.env, IMAGE_TAG, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d));
    child.stderr.on("data", (d: Buffer) => (output += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`compose ${args.join(" ")} exited ${code}:\n${output.slice(-4000)}`)),
    );
  });
}
