// Fails the run at once, with what to do, when no Docker engine answers:
// an end-to-end suite that cannot reach an engine must not pass or hang.
import { execFileSync } from "node:child_process";

export default function checkEngine() {
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
