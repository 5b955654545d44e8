// Client containers: each sends requests from its own address on the test
// network, with node's fetch, and reports what it saw.

import type { StartedTestContainer } from "testcontainers";

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
