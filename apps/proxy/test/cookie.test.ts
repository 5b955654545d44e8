// COOKIE=<name>: cookie persistence as HAProxy's `cookie <name> insert
// indirect`. The proxy names the server in a cookie, a request carrying it
// goes back there from any address, and servers never see the cookie.

import { describe, expect, it } from "@jest/globals";
import { splitCookie, takeCookie } from "../src/data-plane/cookie.js";
import { clientAddresses, get, useTopology } from "./harness.js";

describe("cookie text", () => {
  it("finds the named cookie, only by its whole name", () => {
    expect(splitCookie("SRV=app2", "SRV").value).toBe("app2");
    expect(splitCookie("a=1; SRV=app3; b=2", "SRV").value).toBe("app3");
    expect(splitCookie("XSRV=app1; SRVX=app2", "SRV").value).toBeUndefined();
    expect(splitCookie("XSRV=app1;SRV=app2", "SRV").value).toBe("app2");
    expect(splitCookie("SRV=app1; SRV=app2", "SRV").value).toBe("app1");
    expect(splitCookie("a=1", "SRV").value).toBeUndefined();
    expect(takeCookie({}, "SRV")).toBeUndefined();
  });

  it("removes every copy of it and keeps the rest in order", () => {
    expect(splitCookie("a=1; SRV=app3; b=2", "SRV").rest).toBe("a=1; b=2");
    expect(splitCookie("SRV=app3;SRV=app1", "SRV").rest).toBeUndefined();
    expect(splitCookie("SRVX=1; SRV=app3", "SRV").rest).toBe("SRVX=1");
  });
});

describe("COOKIE=SRV", () => {
  const topology = useTopology({ env: { COOKIE: "SRV" } });

  interface Answer {
    status: number;
    backend: string | null;
    setCookie: string | null;
    /** The Cookie header the backend received. */
    seen: string | null;
  }

  async function ask(cookie?: string): Promise<Answer> {
    const response = await fetch(`http://127.0.0.1:${topology.running.port}/whoami`, {
      headers: cookie === undefined ? {} : { cookie },
    });
    const body = (await response.json()) as { cookie: string | null };
    return {
      status: response.status,
      backend: response.headers.get("x-backend"),
      setCookie: response.headers.get("set-cookie"),
      seen: body.cookie,
    };
  }

  it("names the server in a cookie when the request named none", async () => {
    const answer = await ask();
    expect(answer.status).toBe(200);
    expect(answer.setCookie).toBe(`SRV=${answer.backend}; path=/`);
  });

  it("sends a request that names a server there, from any address, without a new cookie", async () => {
    for (const server of ["app1", "app2", "app3"]) {
      const answer = await ask(`SRV=${server}`);
      expect(answer).toMatchObject({ status: 200, backend: server, setCookie: null });
    }
    // From many client addresses: the cookie wins over the source hash.
    for (const from of clientAddresses(30)) {
      const reply = await get(topology.running.port, { from, headers: { cookie: "SRV=app2" } });
      expect(reply.backend).toBe("app2");
    }
  });

  it("keeps the cookie from the server and the other cookies as they were", async () => {
    expect((await ask("a=1; SRV=app2; b=2")).seen).toBe("a=1; b=2");
    expect((await ask("SRV=app2")).seen).toBeNull();
    expect((await ask("a=1")).seen).toBe("a=1");
  });

  it("places a request naming an unknown server by its address, and names the new one", async () => {
    const plain = await ask();
    const answer = await ask("SRV=nope");
    expect(answer.backend).toBe(plain.backend);
    expect(answer.setCookie).toBe(`SRV=${plain.backend}; path=/`);
  });

  it("keeps sending a drained server its clients, and moves them off a disabled one", async () => {
    const admin = (path: string) =>
      fetch(`http://127.0.0.1:${topology.running.adminPort}${path}`, { method: "POST" });
    expect((await admin("/api/servers/app2/drain")).status).toBe(200);
    expect(await ask("SRV=app2")).toMatchObject({ backend: "app2", setCookie: null });
    expect((await admin("/api/servers/app2/disable")).status).toBe(200);
    const moved = await ask("SRV=app2");
    expect(moved.backend).not.toBe("app2");
    expect(moved.setCookie).toBe(`SRV=${moved.backend}; path=/`);
    expect((await admin("/api/servers/app2/enable")).status).toBe(200);
    expect(await ask("SRV=app2")).toMatchObject({ backend: "app2", setCookie: null });
  });
});
