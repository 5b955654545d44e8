// Images and compose through the Docker CLI; containers through testcontainers.

import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const SERVICES = ["proxy", "app1", "app2", "app3"] as const;
export type Service = (typeof SERVICES)[number];

const run = promisify(execFile);

/** The base image the Dockerfile builds on (see infra/build-base-image.sh). */
export const NODE_IMAGE = process.env.NODE_IMAGE ?? "node:24-bookworm-slim";
/** The build's network: `host` where bridge networks cannot reach the registry. */
export const BUILD_NETWORK = process.env.BUILD_NETWORK ?? "default";

function streamed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d));
    child.stderr.on("data", (d: Buffer) => (output += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${output.slice(-4000)}`)),
    );
  });
}

/** Builds every service's image from infra/Dockerfile, the file compose builds from. */
export async function buildImages(tagPrefix: string): Promise<Record<Service, string>> {
  const tags = {} as Record<Service, string>;
  for (const service of SERVICES) {
    tags[service] = `${tagPrefix}-${service}:e2e`;
    await streamed("docker", [
      "build",
      "--network",
      BUILD_NETWORK,
      "-f",
      "infra/Dockerfile",
      "--build-arg",
      `NODE_IMAGE=${NODE_IMAGE}`,
      "--build-arg",
      `APP=${service}`,
      "-t",
      tags[service],
      ".",
    ]);
  }
  return tags;
}

export async function removeImages(tags: string[]): Promise<void> {
  if (tags.length > 0)
    await run("docker", ["image", "rm", "--no-prune", ...tags]).catch(() => undefined);
}

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
  return streamed(command!, [...prefix, "-p", project, "-f", "infra/compose.yml", ...args], {
    ...process.env,
    NODE_IMAGE,
    BUILD_NETWORK,
    ...env,
  });
}
