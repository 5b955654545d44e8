// Before any test: fail at once, with what to do, when no Docker engine
// answers (an end-to-end suite must not pass or hang without one); then
// build the four images once from infra/Dockerfile, tagged
// stickyring/<service>:<STICKYRING_E2E_TAG>, the names compose uses.
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));

function checkEngine() {
  try {
    execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], {
      timeout: 15_000,
      stdio: "pipe",
    });
  } catch (error) {
    const where = process.env.DOCKER_HOST ?? "the default socket (/var/run/docker.sock)";
    const detail = String(error.stderr ?? error.message)
      .trim()
      .split("\n")[0];
    throw new Error(
      `No Docker engine answers at ${where}: ${detail}\n` +
        "Start one (e.g. `sudo systemctl start docker`), or set DOCKER_HOST to a running engine's socket.\n" +
        "On a machine without one, .ci/run shows how to start dockerd from Debian's docker.io package.",
      { cause: error },
    );
  }
}

export default function globalSetup() {
  checkEngine();
  const tag = `e2e-${process.pid}`;
  process.env.STICKYRING_E2E_TAG = tag;
  for (const service of ["proxy", "app1", "app2", "app3"]) {
    const build = spawnSync(
      "docker",
      [
        "build",
        "--network",
        process.env.BUILD_NETWORK ?? "default",
        "-f",
        "infra/Dockerfile",
        "--build-arg",
        `NODE_IMAGE=${process.env.NODE_IMAGE ?? "node:24-bookworm-slim"}`,
        "--build-arg",
        `APP=${service}`,
        "-t",
        `stickyring/${service}:${tag}`,
        ".",
      ],
      { cwd: repo, encoding: "utf8", maxBuffer: 64 << 20 },
    );
    if (build.status !== 0) {
      throw new Error(
        `docker build of ${service} failed:\n${(build.stdout + build.stderr).slice(-4000)}`,
      );
    }
  }
}
