// Removes the images global-setup built (the containers and networks are
// removed by the tests that made them).
import { spawnSync } from "node:child_process";

export default function globalTeardown() {
  const tag = process.env.STICKYRING_E2E_TAG;
  if (!tag) return;
  const images = ["proxy", "app1", "app2", "app3"].map((s) => `stickyring/${s}:${tag}`);
  spawnSync("docker", ["image", "rm", "--no-prune", ...images], { stdio: "ignore" });
}
