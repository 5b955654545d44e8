import { describe, expect, it } from "@jest/globals";
import { createLookup } from "../src/data-plane/lookup.js";

const lookup = createLookup(1000);
const resolve = (host: string) =>
  new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((done) =>
    lookup(host, {}, (error, address) => done({ error, address })),
  );

describe("backend name resolution", () => {
  it("falls back to the system resolver for names DNS does not know, such as localhost", async () => {
    const { error, address } = await resolve("localhost");
    expect(error).toBeNull();
    expect(address).toBe("127.0.0.1");
  });

  it("reports a name that resolves nowhere as an error", async () => {
    const { error } = await resolve("no-such-backend.invalid");
    expect(error?.code).toMatch(/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEOUT|ESERVFAIL/);
  });
});
