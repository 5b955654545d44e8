// Clients of the TLS port: HTTPS over HTTP/1.1 (node:https) and HTTP/2
// (node:http2), each from a source address of its choosing, trusting the
// test's own CA.

import { request, type Agent } from "node:https";
import { connect as h2connect, type ClientHttp2Session } from "node:http2";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { readReply, type Reply } from "@stickyring/loopback";

export interface TlsReply extends Reply {
  headers: Record<string, string | string[] | undefined>;
  /** The server certificate's SHA-256 fingerprint. */
  fingerprint: string;
}

export interface TlsGetOptions {
  from?: string;
  ca: string;
  /** SNI; default "localhost". */
  servername?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  agent?: Agent | false;
  body?: string;
  /** A client certificate and its key (PEM), for mutual TLS. */
  cert?: string;
  key?: string;
}

export function httpsGet(port: number, options: TlsGetOptions): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: options.path ?? "/",
        method: options.method ?? "GET",
        localAddress: options.from,
        headers: options.headers,
        agent: options.agent ?? false,
        ca: options.ca,
        servername: options.servername ?? "localhost",
        cert: options.cert,
        key: options.key,
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        readReply(res).then(
          (reply) => resolve({ ...reply, headers: res.headers, fingerprint }),
          reject,
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    req.end(options.body);
  });
}

/** An HTTP/2 connection from `from`. */
export function h2Session(
  port: number,
  options: { from?: string; ca: string; servername?: string; cert?: string; key?: string },
): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://localhost:${port}`, {
      createConnection: () =>
        tlsConnect({
          host: "127.0.0.1",
          port,
          // net.connect's option, passed on by tls.connect (its type leaves it out).
          ...({ localAddress: options.from } as object),
          ca: options.ca,
          servername: options.servername ?? "localhost",
          ALPNProtocols: ["h2"],
          cert: options.cert,
          key: options.key,
        }),
    });
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}

export interface H2Reply {
  status: number;
  backend: string | undefined;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request on an HTTP/2 session. */
export function h2Request(
  session: ClientHttp2Session,
  headers: Record<string, string | string[]> = {},
  body?: string | Buffer,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": "/", ...headers }, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: H2Reply["headers"] = {};
    let text = "";
    stream.setEncoding("utf8");
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      responseHeaders = h;
    });
    stream.on("data", (chunk: string) => (text += chunk));
    stream.on("end", () =>
      resolve({
        status,
        backend: responseHeaders["x-backend"] as string | undefined,
        body: text,
        headers: responseHeaders,
      }),
    );
    stream.on("error", reject);
    if (body !== undefined) stream.end(body);
  });
}

/** The OCSP response a client asking for one got in its handshake, if any. */
export function stapledResponse(
  port: number,
  ca: string,
  servername: string,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    let response: Buffer | undefined;
    const socket = tlsConnect({ host: "127.0.0.1", port, ca, servername, requestOCSP: true });
    // null: asked, and nothing stapled.
    socket.on("OCSPResponse", (der: Buffer | null) => (response = der ?? undefined));
    socket.once("secureConnect", () => {
      socket.destroy();
      resolve(response);
    });
    socket.once("error", reject);
  });
}
