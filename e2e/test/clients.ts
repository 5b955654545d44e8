// Client containers: each sends requests from its own address on the test
// network, with node's fetch, and reports what it saw.

import {
  GenericContainer,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from "testcontainers";
import { image } from "./docker.js";

export interface Observation {
  url: string;
  status: number;
  backend: string | null;
}

// Runs inside the client container: `node -e SCRIPT '<json urls>' <rounds>`.
const SCRIPT = `
const urls = JSON.parse(process.argv[1]);
const rounds = Number(process.argv[2]);
(async () => {
  const seen = [];
  for (let r = 0; r < rounds; r++) {
    for (const url of urls) {
      try {
        const res = await fetch(url, { headers: { connection: "close" }, signal: AbortSignal.timeout(15000) });
        await res.text();
        seen.push({ url, status: res.status, backend: res.headers.get("x-backend") });
      } catch (error) {
        seen.push({ url, status: 0, backend: null, error: String(error.cause?.code ?? error) });
      }
    }
  }
  console.log(JSON.stringify(seen));
})();
`;

/** Sends `rounds` GETs to each URL from inside `client`; returns every answer. */
export async function requestFrom(
  client: StartedTestContainer,
  urls: string[],
  rounds: number,
): Promise<Observation[]> {
  const result = await client.exec(["node", "-e", SCRIPT, JSON.stringify(urls), String(rounds)]);
  if (result.exitCode !== 0)
    throw new Error(`client exec failed (${result.exitCode}): ${result.output}`);
  return JSON.parse(result.stdout.trim().split("\n").pop()!) as Observation[];
}

/**
 * A client container on `network`: the app image idling. Its image's health
 * check is off: run in every client every 2 s, those node processes took
 * both cores of a CI machine and starved the containers under test.
 */
export async function startClient(
  network: StartedNetwork,
): Promise<{ container: StartedTestContainer; address: string }> {
  const container = await new GenericContainer(image("app1"))
    .withNetwork(network)
    .withCommand(["node", "-e", "setInterval(() => {}, 1 << 30)"])
    // Docker's "no health check" (testcontainers' type does not list it).
    .withHealthCheck({ test: ["NONE"] as unknown as ["CMD"] })
    .withWaitStrategy(Wait.forListeningPorts())
    .start();
  return { container, address: container.getIpAddress(network.getName()) };
}
