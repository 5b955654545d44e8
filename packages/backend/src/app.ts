import { pipeline, Readable } from "node:stream";
import express, { type Express } from "express";

export interface BackendOptions {
  /** Short id, e.g. "app1": reported by /healthz and /whoami. */
  id: string;
  /** The greeting on `GET /`, e.g. "Hello from App 1". */
  greeting: string;
}

/** Builds the backend without listening, so tests can drive it directly. */
export function createBackend({ id, greeting }: BackendOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok", app: id });
  });

  // What the proxy told us about the client: lets tests check forwardfor.
  app.get("/whoami", (req, res) => {
    res.json({
      app: id,
      peer: req.socket.remoteAddress,
      forwardedFor: req.get("x-forwarded-for") ?? null,
      forwardedProto: req.get("x-forwarded-proto") ?? null,
      forwardedHost: req.get("x-forwarded-host") ?? null,
      cookie: req.get("cookie") ?? null,
      // With REQUEST_ID_HEADER=X-Request-ID on the proxy.
      requestId: req.get("x-request-id") ?? null,
      // With TLS_CLIENT_CA on the proxy: the client's certificate as it verified it.
      clientCertificate: {
        verify: req.get("x-ssl-client-verify") ?? null,
        subject: req.get("x-ssl-client-s-dn") ?? null,
        issuer: req.get("x-ssl-client-i-dn") ?? null,
        sha256: req.get("x-ssl-client-sha256") ?? null,
        serial: req.get("x-ssl-client-serial") ?? null,
      },
    });
  });

  // Streams a request body back, counting bytes: large-upload tests.
  app.post("/upload", (req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => res.json({ app: id, bytes }));
  });

  // Streams ?mb=N MiB (1..1024) of zeros: large-download tests.
  app.get("/download", (req, res) => {
    const mb = Number(req.query.mb ?? 1);
    if (!Number.isInteger(mb) || mb < 1 || mb > 1024) {
      res.status(400).type("text/plain").send("mb must be an integer from 1 to 1024\n");
      return;
    }
    const chunk = Buffer.alloc(1 << 20);
    res.type("application/octet-stream").set("content-length", String(mb * chunk.length));
    // The same 1 MiB buffer mb times, written as the socket drains; a client
    // that leaves early ends the pipeline, which needs nothing more.
    pipeline(Readable.from(Array.from({ length: mb }, () => chunk)), res, () => undefined);
  });

  // Every other GET answers the greeting, so URI-hash tests can use any path.
  app.get("/{*path}", (_req, res) => {
    res.type("text/plain").send(greeting);
  });

  return app;
}
