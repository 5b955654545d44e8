// Request lines, targets and header fields: absolute-form, paths passed as
// sent, sizes, invalid names and values, bare LF, obs-fold, Host, hop-by-hop
// and Connection-named fields (RFC 9110 7, 9112 2-5).

import type { Case, Expect } from "../types.js";
import { absolute, get, head, HOST, ok, okSpec, reached, refused } from "./helpers.js";

const HOST_MISMATCH =
  "RFC 9112 3.2.2: a proxy MUST ignore the received Host and use the target's authority; HAProxy 2.6 refuses a Host that differs from the authority with 400";
const CONNECTION_OPTIONS =
  "RFC 9110 7.6.1: an intermediary MUST remove the fields a Connection header names; HAProxy 2.6 passes them on";
const CTL_KEPT =
  "RFC 9110 5.5 lets a recipient refuse a field value with a control byte or keep it; stickyring refuses it, HAProxy passes it on";

const badRequest = (status: number | number[] = 400): Expect[] => [refused(status)];
const METHODS_KNOWN =
  "stickyring reads the methods node:http reads (llhttp's table: the RFC 9110 ones, WebDAV's, PURGE and others) and answers 501 to any other, as an origin server that does not implement one (RFC 9110 15.6.2); HAProxy forwards any token";

/** A request with `line` as its request line and Host: case.test. */
const line = (requestLine: string, ...fields: string[]) => head(requestLine, HOST, ...fields);

/** The target reaches the server exactly as sent. */
const passes = (name: string, target: string): Case => ({
  name: `target passed as sent: ${name}`,
  send: [line(`GET ${target} HTTP/1.1`)],
  expect: { responses: [okSpec()], upstream: [reached("GET", target)] },
});

/** The header field reaches the server with this value. */
const fieldPasses = (name: string, fieldLine: string, header: string, value: string): Case => ({
  name: `header passed: ${name}`,
  send: [line("GET /field HTTP/1.1", fieldLine)],
  expect: {
    responses: [okSpec()],
    upstream: [reached("GET", "/field", { headers: { [header]: value } })],
  },
});

const fieldRefused = (name: string, fieldLine: string): Case => ({
  name: `header refused: ${name}`,
  send: [line("GET /field HTTP/1.1", fieldLine)],
  expect: badRequest(),
});

export const REQUEST_SYNTAX: Case[] = [
  // absolute-form (RFC 9112 3.2.2): Host is the target's authority, the path is as sent.
  {
    name: "absolute-form: no port: Host is the bare host name",
    send: [head("GET http://abs.example/p HTTP/1.1", "Host: other.example")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example/p"), { headers: { host: "abs.example" } }),
      ],
    },
    differsFromHaproxy: HOST_MISMATCH,
  },
  {
    name: "absolute-form: an explicit default port stays in Host (abs.example:80)",
    send: [head("GET http://abs.example:80/p HTTP/1.1", "Host: abs.example:80")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example:80/p"), {
          headers: { host: "abs.example:80" },
        }),
      ],
    },
    differsFromHaproxy:
      "RFC 9112 3.2.2 wants Host identical to the target's authority (abs.example:80); HAProxy drops the default port (RFC 9110 4.2.3 makes both equivalent)",
  },
  {
    name: "absolute-form: an empty path becomes / (RFC 9112 3.2.1)",
    send: [head("GET http://abs.example HTTP/1.1", "Host: abs.example")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example"), { headers: { host: "abs.example" } }),
      ],
    },
  },
  {
    name: "absolute-form: an empty path with a query becomes /?query",
    send: [head("GET http://abs.example?x=1 HTTP/1.1", "Host: abs.example")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example?x=1"), { headers: { host: "abs.example" } }),
      ],
    },
    differsFromHaproxy:
      "RFC 3986 3.3: a path may be empty before the query; HAProxy 2.6 refuses http://abs.example?x=1 with 400",
  },
  {
    name: "absolute-form: the query is passed as sent",
    send: [head("GET http://abs.example/p?q=a%20b&r=%2F&s HTTP/1.1", "Host: abs.example")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example/p?q=a%20b&r=%2F&s"), {
          headers: { host: "abs.example" },
        }),
      ],
    },
  },
  {
    name: "absolute-form: /./ and /../ segments are passed as sent",
    send: [head("GET http://abs.example/a/./b/../c HTTP/1.1", "Host: abs.example")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example/a/./b/../c"), {
          headers: { host: "abs.example" },
        }),
      ],
    },
  },
  {
    name: "absolute-form: %2F and %7E in the path are passed as sent",
    send: [head("GET http://abs.example/%7Euser/a%2Fb HTTP/1.1", "Host: abs.example")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example/%7Euser/a%2Fb"), {
          headers: { host: "abs.example" },
        }),
      ],
    },
  },
  {
    name: "absolute-form: without any Host header, Host is the target's authority",
    send: ["GET http://abs.example:8080/nohost HTTP/1.1\r\n\r\n"],
    expect: [
      {
        responses: [okSpec()],
        upstream: [
          reached("GET", absolute("http://abs.example:8080/nohost"), {
            headers: { host: "abs.example:8080" },
          }),
        ],
      },
      // RFC 9112 3.2: an HTTP/1.1 request without Host MUST get 400, absolute-form or not.
      refused(400),
    ],
    differsFromHaproxy:
      "RFC 9112 3.2: 400 for an HTTP/1.1 request without Host; HAProxy 2.6 forwards it with no Host at all",
  },
  {
    name: "absolute-form: the scheme and host name in capitals",
    send: [head("GET HTTP://ABS.EXAMPLE:8080/Caps HTTP/1.1", "Host: other.example")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("HTTP://ABS.EXAMPLE:8080/Caps"), {
          headers: { host: /^abs\.example:8080$/i },
        }),
      ],
    },
    differsFromHaproxy: HOST_MISMATCH,
  },
  passes("dot segments", "/a/../b/./c"),
  passes("%2e%2e", "/a/%2e%2e/%2E%2E/x"),
  passes("double slashes", "//double//slash/"),
  passes("percent-encoded slash and NUL in the query", "/p?q=%2F&x=%00"),
  passes("a query only", "/?"),
  passes("sub-delims and colons", "/a;b=c,d/e:f@g!$&'()*+"),
  {
    name: "target passed as sent: a backslash in origin-form",
    send: [line("GET /a\\b HTTP/1.1")],
    expect: [
      { responses: [okSpec()], upstream: [reached("GET", "/a\\b")] },
      // "\" is not a URI character (RFC 3986): refusing the request is as good.
      refused(400),
    ],
  },
  {
    name: "target: 8000 octets are supported (RFC 9112 3)",
    send: [line(`GET /${"a".repeat(7990)} HTTP/1.1`)],
    expect: { responses: [okSpec()], upstream: [reached("GET", `/${"a".repeat(7990)}`)] },
  },
  {
    name: "target: 20 KB gets 414 URI Too Long (RFC 9112 3)",
    send: [line(`GET /${"a".repeat(20_000)} HTTP/1.1`)],
    expect: badRequest(414),
    differsFromHaproxy:
      "RFC 9112 3: a server MUST answer a request-target longer than it wishes to parse with 414; HAProxy 2.6 answers 400",
  },
  {
    name: "OPTIONS * goes to the client's server as OPTIONS * (RFC 9110 9.3.7)",
    send: [line("OPTIONS * HTTP/1.1")],
    expect: { responses: [okSpec()], upstream: [reached("OPTIONS", "*")] },
  },
  {
    name: "OPTIONS with an absolute-form target of empty path goes on as OPTIONS * (RFC 9112 3.2.4) or as sent, or is answered as OPTIONS *; never as OPTIONS /",
    send: [head("OPTIONS http://abs.example HTTP/1.1", "Host: abs.example")],
    expect: [
      {
        responses: [okSpec()],
        upstream: [
          reached("OPTIONS", ["*", "http://abs.example"], { headers: { host: "abs.example" } }),
        ],
      },
      refused(501),
    ],
    differsFromHaproxy:
      "RFC 9112 3.2.4: the last proxy sends such a request in asterisk form; stickyring does, HAProxy passes the absolute form on",
  },
  {
    name: "CONNECT is refused with 501 (not a forward proxy)",
    send: [head("CONNECT abs.example:443 HTTP/1.1", "Host: abs.example:443")],
    expect: [refused(501), refused([400, 405])],
    differsFromHaproxy:
      "RFC 9110 9.3.6: a gateway may refuse CONNECT; HAProxy 2.6 passes it to the server and tunnels the connection",
  },
  {
    name: "methods: PROPFIND (WebDAV) is forwarded",
    send: [line("PROPFIND /dav HTTP/1.1", "Depth: 1")],
    expect: {
      responses: [okSpec()],
      upstream: [reached("PROPFIND", "/dav", { headers: { depth: "1" } })],
    },
  },
  {
    name: "methods: an extension method llhttp does not know is answered 501 (RFC 9110 9.1, 15.6.2)",
    send: [line("PURGEX /cache HTTP/1.1")],
    expect: refused(501),
    differsFromHaproxy: METHODS_KNOWN,
  },
  {
    name: "methods: a lower-case method is another, unknown method: 501",
    send: [line("get /lower HTTP/1.1")],
    expect: refused(501),
    differsFromHaproxy: METHODS_KNOWN,
  },
  {
    name: "request line: two spaces after the method: refused, or read as one (RFC 9112 3)",
    send: [line("GET  /two-spaces HTTP/1.1")],
    expect: [refused(400), { responses: [okSpec()], upstream: [reached("GET", "/two-spaces")] }],
  },
  {
    name: "request line: a tab instead of a space: refused, or read as a space (RFC 9112 3)",
    send: [line("GET\t/tab HTTP/1.1")],
    expect: [refused(400), { responses: [okSpec()], upstream: [reached("GET", "/tab")] }],
    differsFromHaproxy:
      "RFC 9112 3 lets a recipient split the request line on any whitespace or refuse it; stickyring refuses, HAProxy reads the tab as a space",
  },
  {
    name: "request line: a space inside the target is refused",
    send: [line("GET /a b HTTP/1.1")],
    expect: badRequest(),
  },
  {
    name: "request line: HTTP/1.2 is read as HTTP/1.1 (RFC 9110 6.2) or refused",
    send: [line("GET /v12 HTTP/1.2")],
    expect: [{ responses: [okSpec()], upstream: [reached("GET", "/v12")] }, refused([400, 505])],
    differsFromHaproxy:
      "RFC 9110 6.2: a higher minor version SHOULD be read as the highest known (1.1); stickyring refuses HTTP/1.2, HAProxy reads it as 1.1",
  },
  {
    name: "request line: HTTP/2.0 over HTTP/1 syntax: refused (505 or 400), or read as HTTP/1.1",
    send: [line("GET /v2 HTTP/2.0")],
    expect: [
      refused([400, 505]),
      { responses: [okSpec()], connection: "any", upstream: [reached("GET", "/v2")] },
    ],
    differsFromHaproxy:
      "RFC 9110 15.6.6: a server may answer 505 to a major version it does not support; stickyring does, HAProxy reads it as HTTP/1.1",
  },
  {
    name: "request line: HTTP/3.0: refused (505 or 400), or read as HTTP/1.1",
    send: [line("GET /v3 HTTP/3.0")],
    expect: [
      refused([400, 505]),
      { responses: [okSpec()], connection: "any", upstream: [reached("GET", "/v3")] },
    ],
    differsFromHaproxy:
      "RFC 9110 15.6.6 lets a server refuse a major version (505); stickyring refuses HTTP/3.0 (400), HAProxy forwards it as HTTP/1.1",
  },
  {
    name: "request line: a lower-case protocol name (http/1.1) is refused",
    send: [line("GET /lower-proto http/1.1")],
    expect: badRequest(),
  },
  {
    name: "request line: a missing version is refused",
    send: [line("GET /no-version")],
    expect: [refused(400), { responses: [], connection: "closed", upstream: [] }],
  },
  {
    name: "request line: an HTTP/0.9 request gets no HTTP/1.1 answer from a server",
    send: ["GET /\r\n\r\n"],
    expect: [refused(400), { responses: [], connection: "closed", upstream: [] }],
  },
  {
    name: "request line: leading empty lines before the request line are ignored (RFC 9112 2.2)",
    send: ["\r\n\r\n" + line("GET /after-empty-lines HTTP/1.1")],
    expect: [
      { responses: [okSpec()], upstream: [reached("GET", "/after-empty-lines")] },
      refused(400),
    ],
  },
  // Host (RFC 9112 3.2)
  {
    name: "Host: missing in HTTP/1.1 is refused",
    send: ["GET /nohost HTTP/1.1\r\n\r\n"],
    expect: badRequest(),
    differsFromHaproxy:
      "RFC 9112 3.2: an HTTP/1.1 request without Host MUST get 400; HAProxy 2.6 forwards it",
  },
  {
    name: "Host: two Host fields are refused",
    send: [head("GET /twohosts HTTP/1.1", "Host: a.example", "Host: b.example")],
    expect: badRequest(),
  },
  {
    name: "Host: an invalid value (space inside) is refused",
    send: [head("GET /badhost HTTP/1.1", "Host: a b.example")],
    expect: badRequest(),
    differsFromHaproxy:
      "RFC 9112 3.2: a Host with an invalid value MUST get 400; HAProxy 2.6 does not check Host's syntax",
  },
  {
    name: "Host: userinfo in Host is refused",
    send: [head("GET /userinfo HTTP/1.1", "Host: user@abs.example")],
    expect: badRequest(),
    differsFromHaproxy:
      'RFC 9112 3.2 / RFC 9110 7.2: Host = uri-host [ ":" port ]; HAProxy 2.6 does not check Host\'s syntax',
  },
  {
    name: "Host: an empty Host is valid and passed on",
    send: [head("GET /emptyhost HTTP/1.1", "Host:")],
    expect: [
      {
        responses: [okSpec()],
        upstream: [reached("GET", "/emptyhost", { headers: { host: "" } })],
      },
    ],
  },
  {
    name: "Host: HTTP/1.0 without Host gets one from the proxy",
    send: ["GET /ten HTTP/1.0\r\n\r\n"],
    expect: [{ responses: [okSpec()], connection: "closed", upstream: [reached("GET", "/ten")] }],
    differsFromHaproxy:
      "HTTP/1.0 needs no Host; stickyring sends HTTP/1.1 to the server and adds the one it requires (RFC 9112 3.2), HAProxy sends HTTP/1.0 on without Host",
  },
  // Field syntax (RFC 9110 5, RFC 9112 5)
  fieldRefused("a space inside the name", "X Foo: bar"),
  fieldRefused("a ( in the name", "X(Foo): bar"),
  fieldRefused("an @ in the name", "X-Foo@: bar"),
  fieldRefused("an empty name", ": bar"),
  fieldRefused("no colon", "X-Foo bar"),
  fieldRefused("a space before the colon (RFC 9112 5.1)", "X-Foo : bar"),
  {
    ...fieldRefused("a NUL in the value", "X-Foo: a\x00b"),
    differsFromHaproxy:
      "RFC 9110 5.5: a NUL in a field value MUST be refused or replaced by SP; HAProxy 2.6 passes it on",
  },
  fieldRefused("a bare CR in the value", "X-Foo: a\rb"),
  {
    name: "header: a DEL (0x7f) in the value is refused or kept as is (RFC 9110 5.5)",
    send: [line("GET /field HTTP/1.1", "X-Foo: a\x7fb")],
    expect: [
      refused(400),
      {
        responses: [okSpec()],
        upstream: [reached("GET", "/field", { headers: { "x-foo": "a\x7fb" } })],
      },
    ],
    differsFromHaproxy: CTL_KEPT,
  },
  {
    name: "header: a control byte 0x01 in the value is refused or kept as is (RFC 9110 5.5)",
    send: [line("GET /field HTTP/1.1", "X-Foo: a\x01b")],
    expect: [
      refused(400),
      {
        responses: [okSpec()],
        upstream: [reached("GET", "/field", { headers: { "x-foo": "a\x01b" } })],
      },
    ],
    differsFromHaproxy: CTL_KEPT,
  },
  fieldPasses("obs-text (0xe9) in the value", "X-Foo: caf\xe9", "x-foo", "caf\xe9"),
  fieldPasses("a tab inside the value", "X-Foo: a\tb", "x-foo", "a\tb"),
  fieldPasses(
    "surrounding whitespace is not part of the value",
    "X-Foo: \t bar \t",
    "x-foo",
    "bar",
  ),
  fieldPasses("an empty value", "X-Empty:", "x-empty", ""),
  fieldPasses("a quoted value with commas", 'X-Quoted: "a, b", c', "x-quoted", '"a, b", c'),
  {
    name: "header: a field repeated is passed on with both values",
    send: [line("GET /field HTTP/1.1", "X-Multi: a", "X-Multi: b")],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/field", { headers: { "x-multi": "a, b" } })],
    },
  },
  {
    name: "header: obs-fold is refused or replaced by spaces (RFC 9112 5.2)",
    send: [line("GET /fold HTTP/1.1", "X-Fold: a", " b")],
    expect: [
      refused(400),
      {
        responses: [okSpec()],
        upstream: [reached("GET", "/fold", { headers: { "x-fold": /^a +b$/ } })],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 5.2 allows refusing obs-fold or replacing it with spaces; stickyring refuses, HAProxy replaces",
  },
  {
    name: "header: a whitespace-led line right after the request line is refused or skipped (RFC 9112 2.2)",
    send: ["GET /ws-line HTTP/1.1\r\n X-Skip: 1\r\nHost: case.test\r\n\r\n"],
    expect: [
      refused(400),
      {
        responses: [okSpec()],
        upstream: [reached("GET", "/ws-line", { headers: { "x-skip": null } })],
      },
    ],
  },
  {
    name: "header: bare LF line ends are refused or read as CRLF (RFC 9112 2.2)",
    send: ["GET /bare-lf HTTP/1.1\nHost: case.test\nX-A: 1\n\n"],
    expect: [
      refused(400),
      {
        responses: [okSpec()],
        upstream: [reached("GET", "/bare-lf", { headers: { "x-a": "1" } })],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 2.2 lets a recipient accept a bare LF as a line end or refuse it; stickyring's parser is strict",
  },
  {
    name: "header: a bare CR as a line end is refused (RFC 9112 2.2)",
    send: ["GET /bare-cr HTTP/1.1\rHost: case.test\r\n\r\n"],
    expect: badRequest(),
  },
  {
    name: "header: one 8 KB field is passed on",
    send: [line("GET /big-field HTTP/1.1", `X-Big: ${"v".repeat(8192)}`)],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/big-field", { headers: { "x-big": "v".repeat(8192) } })],
    },
  },
  {
    name: "header: 90 fields are all passed on",
    send: [line("GET /many HTTP/1.1", ...Array.from({ length: 90 }, (_, i) => `X-F${i}: ${i}`))],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", "/many", { headers: { "x-f0": "0", "x-f50": "50", "x-f89": "89" } }),
      ],
    },
  },
  {
    name: "header: one 20 KB field gets 431 (RFC 6585 5)",
    send: [line("GET /huge-field HTTP/1.1", `X-Huge: ${"v".repeat(20_000)}`)],
    expect: badRequest(431),
    differsFromHaproxy:
      "RFC 6585 5: 431 says what is wrong; HAProxy 2.6 answers 400 to a head beyond its buffer",
  },
  {
    name: "header: 20 KB of header fields in total get 431",
    send: [
      line(
        "GET /huge-head HTTP/1.1",
        ...Array.from({ length: 40 }, (_, i) => `X-F${i}: ${"v".repeat(500)}`),
      ),
    ],
    expect: badRequest(431),
    differsFromHaproxy:
      "RFC 6585 5: 431 says what is wrong; HAProxy 2.6 answers 400 to a head beyond its buffer",
  },
  // Connection and hop-by-hop fields (RFC 9110 7.6.1)
  {
    name: "hop-by-hop: fields named by Connection are not passed on, others are",
    send: [line("GET /conn HTTP/1.1", "Connection: X-Secret", "X-Secret: 1", "X-Keep: 2")],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/conn", { headers: { "x-secret": null, "x-keep": "2" } })],
    },
    differsFromHaproxy: CONNECTION_OPTIONS,
  },
  {
    name: "hop-by-hop: several Connection options, any case, none passed on",
    send: [
      line(
        "GET /conn HTTP/1.1",
        "Connection: keep-alive, X-A",
        "connection: x-b",
        "X-A: 1",
        "x-b: 2",
        "X-C: 3",
      ),
    ],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/conn", { headers: { "x-a": null, "x-b": null, "x-c": "3" } })],
    },
    differsFromHaproxy: CONNECTION_OPTIONS,
  },
  {
    name: "hop-by-hop: Keep-Alive and Proxy-Connection are not passed on",
    send: [line("GET /ka HTTP/1.1", "Keep-Alive: timeout=5", "Proxy-Connection: keep-alive")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", "/ka", { headers: { "keep-alive": null, "proxy-connection": null } }),
      ],
    },
    differsFromHaproxy:
      "RFC 9110 7.6.1: an intermediary SHOULD remove Keep-Alive and Proxy-Connection; HAProxy 2.6 passes them on",
  },
  {
    name: "hop-by-hop: TE named by Connection is not passed on",
    send: [line("GET /te-header HTTP/1.1", "TE: trailers", "Connection: TE")],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/te-header", { headers: { te: null } })],
    },
    differsFromHaproxy:
      "RFC 9110 7.6.1: TE, named by Connection, MUST be removed; HAProxy 2.6 passes TE: trailers on",
  },
  {
    name: "hop-by-hop: an h2c upgrade offer is not taken up; HTTP2-Settings is not passed on",
    send: [
      line(
        "GET /h2c HTTP/1.1",
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAAQAAP__",
      ),
    ],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/h2c", { headers: { "http2-settings": null } })],
    },
    differsFromHaproxy: CONNECTION_OPTIONS,
  },
  {
    name: "hop-by-hop: Connection naming X-Forwarded-For does not remove the proxy's own X-Forwarded-For",
    send: [
      line("GET /xff-conn HTTP/1.1", "Connection: X-Forwarded-For", "X-Forwarded-For: 6.6.6.6"),
    ],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", "/xff-conn", { headers: { "x-forwarded-for": /^127\.21\.\d+\.\d+$/ } }),
      ],
    },
    differsFromHaproxy: `${CONNECTION_OPTIONS} (the client's X-Forwarded-For: 6.6.6.6 stays, before HAProxy's own)`,
  },
  {
    name: "hop-by-hop: Connection naming Content-Length does not unframe the body",
    send: [
      head("POST /cl-conn HTTP/1.1", HOST, "Connection: Content-Length", "Content-Length: 5") +
        "hello",
    ],
    methods: ["POST"],
    expect: [
      { responses: [okSpec()], upstream: [reached("POST", "/cl-conn", { body: "hello" })] },
      refused(400),
    ],
  },
  {
    name: "hop-by-hop: Connection naming Host still leaves the server one Host",
    send: [line("GET /host-conn HTTP/1.1", "Connection: Host")],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/host-conn")],
      check: (o) => {
        const hosts = o.upstream[0]?.fields.filter(([n]) => n.toLowerCase() === "host") ?? [];
        return hosts.length === 1
          ? []
          : [`the server expected exactly one Host, got ${hosts.length}`];
      },
    },
  },
  {
    name: "X-Forwarded-For: a client's own value is kept and the client's address appended",
    send: [line("GET /xff-chain HTTP/1.1", "X-Forwarded-For: 203.0.113.7")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", "/xff-chain", {
          headers: { "x-forwarded-for": /^203\.0\.113\.7, 127\.21\.\d+\.\d+$/ },
        }),
      ],
    },
  },
  {
    name: "Connection: close from the client: answered with Connection: close, then closed",
    send: [line("GET /close HTTP/1.1", "Connection: close")],
    expect: {
      responses: [okSpec("ok", { headers: { connection: /close/i } })],
      connection: "closed",
      upstream: [reached("GET", "/close")],
    },
  },
  {
    name: "header names keep working whatever their case",
    send: [head("GET /case HTTP/1.1", "hOsT: case.test", "x-MiXeD: 1")],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/case", { headers: { host: "case.test", "x-mixed": "1" } })],
    },
  },
  {
    name: "a GET of the proxy's own look (x-backend sent by the client) is passed on untouched",
    send: [get("/own", "X-Backend: spoofed")],
    server: [[ok()]],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/own", { headers: { "x-backend": "spoofed" } })],
    },
  },
];
