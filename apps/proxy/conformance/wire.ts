// HTTP/1.1 messages as bytes: a small, lenient reader for what a proxy sent
// (requests reaching the scripted backend, responses reaching a raw client),
// which notes every irregularity instead of refusing, and a printer that
// shows raw bytes readably. It is not the code under test: it only has to be
// right for the well-formed messages a proxy ought to send, and say where
// a message is not one.

/** A header list as received: names in their own case, repeats kept, in order. */
export type Fields = [name: string, value: string][];

export function bytes(data: string | Buffer): Buffer {
  return typeof data === "string" ? Buffer.from(data, "latin1") : data;
}

/** Raw bytes as a JSON-like string: printable ASCII as is, the rest escaped. */
export function show(data: Buffer | string, max = 600): string {
  const buf = bytes(data);
  let out = "";
  for (const byte of buf.subarray(0, max)) {
    if (byte === 0x0d) out += "\\r";
    else if (byte === 0x0a) out += "\\n";
    else if (byte === 0x09) out += "\\t";
    else if (byte === 0x5c) out += "\\\\";
    else if (byte === 0x22) out += '\\"';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  const more = buf.length > max ? `...(+${buf.length - max} bytes)` : "";
  return `"${out}"${more}`;
}

/** All values of a field (case-insensitive), in order. */
export function values(fields: Fields, name: string): string[] {
  const lower = name.toLowerCase();
  return fields.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** The field's values joined as a list (RFC 9110 5.3), undefined when absent. */
export function field(fields: Fields, name: string): string | undefined {
  const all = values(fields, name);
  return all.length === 0 ? undefined : all.join(", ");
}

/** A control byte other than HTAB, or DEL (RFC 9110 5.5: not field-vchar). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface Head {
  startLine: string;
  fields: Fields;
  /** Offset just past the empty line. */
  end: number;
  anomalies: string[];
}

/**
 * The head starting at `from`: undefined while it is incomplete. Lines end
 * with CRLF; a bare LF is accepted and noted.
 */
function readHead(buf: Buffer, from: number): Head | undefined {
  const anomalies: string[] = [];
  const lines: string[] = [];
  let pos = from;
  for (;;) {
    const lf = buf.indexOf(0x0a, pos);
    if (lf < 0) return undefined;
    let line = buf.subarray(pos, lf);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    else anomalies.push(`bare LF after ${show(line, 60)}`);
    pos = lf + 1;
    if (line.length === 0) break;
    lines.push(line.toString("latin1"));
  }
  const [startLine = "", ...rest] = lines;
  const fields: Fields = [];
  for (const line of rest) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      anomalies.push(`obs-fold line ${show(line, 60)}`);
      const last = fields[fields.length - 1];
      if (last) last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    if (colon < 0 || !TOKEN.test(name)) anomalies.push(`invalid field line ${show(line, 60)}`);
    if (hasControl(line)) anomalies.push(`control byte in ${show(line, 60)}`);
    fields.push([name, colon < 0 ? "" : line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")]);
  }
  return { startLine, fields, end: pos, anomalies };
}

interface Body {
  body: Buffer;
  trailers: Fields;
  /** Offset just past the body; the data's end when incomplete. */
  end: number;
  complete: boolean;
  anomalies: string[];
  /** The chunked framing could not be read. */
  error?: string;
}

function readChunked(buf: Buffer, from: number): Body {
  const parts: Buffer[] = [];
  const anomalies: string[] = [];
  let pos = from;
  const partial = (error?: string): Body => ({
    body: Buffer.concat(parts),
    trailers: [],
    end: buf.length,
    complete: false,
    anomalies,
    ...(error === undefined ? {} : { error }),
  });
  for (;;) {
    const lf = buf.indexOf(0x0a, pos);
    if (lf < 0) return partial();
    const line = buf.subarray(pos, lf).toString("latin1").replace(/\r$/, "");
    const match = /^([0-9A-Fa-f]+)[ \t]*(;.*)?$/.exec(line);
    if (!match) return partial(`invalid chunk size line ${show(line, 60)}`);
    if (match[2] !== undefined) anomalies.push(`chunk extension ${show(match[2], 60)}`);
    if (match[1]!.length > 12) return partial(`chunk size too large ${show(line, 60)}`);
    const size = parseInt(match[1]!, 16);
    pos = lf + 1;
    if (size === 0) break;
    if (buf.length < pos + size + 2) {
      parts.push(buf.subarray(pos, Math.min(buf.length, pos + size)));
      return partial();
    }
    parts.push(buf.subarray(pos, pos + size));
    pos += size;
    if (buf[pos] !== 0x0d || buf[pos + 1] !== 0x0a)
      return partial(`no CRLF after chunk data at ${show(buf.subarray(pos, pos + 10))}`);
    pos += 2;
  }
  const trailers: Fields = [];
  for (;;) {
    const lf = buf.indexOf(0x0a, pos);
    if (lf < 0) return partial();
    const line = buf.subarray(pos, lf).toString("latin1").replace(/\r$/, "");
    pos = lf + 1;
    if (line === "") break;
    const colon = line.indexOf(":");
    trailers.push([
      colon < 0 ? line : line.slice(0, colon),
      colon < 0 ? "" : line.slice(colon + 1).trim(),
    ]);
  }
  return { body: Buffer.concat(parts), trailers, end: pos, complete: true, anomalies };
}

type Framing = "none" | "length" | "chunked" | "close";

/** RFC 9112 6.3, for the framing a reader of a proxy's output should see. */
function framingOf(
  fields: Fields,
  bodiless: boolean,
): { framing: Framing; length: number; note?: string } {
  if (bodiless) return { framing: "none", length: 0 };
  const te = field(fields, "transfer-encoding");
  if (te !== undefined) {
    const codings = te.split(",").map((c) => c.trim().toLowerCase());
    const note =
      values(fields, "content-length").length > 0
        ? "both Transfer-Encoding and Content-Length"
        : undefined;
    return codings[codings.length - 1] === "chunked"
      ? { framing: "chunked", length: 0, ...(note ? { note } : {}) }
      : { framing: "close", length: 0, note: `Transfer-Encoding ${te} is not chunked-final` };
  }
  const lengths = values(fields, "content-length");
  if (lengths.length > 0) {
    const all = lengths.flatMap((v) => v.split(",").map((s) => s.trim()));
    const first = all[0]!;
    if (!/^\d{1,15}$/.test(first) || all.some((v) => v !== first))
      return { framing: "close", length: 0, note: `invalid Content-Length ${lengths.join(" | ")}` };
    return {
      framing: "length",
      length: Number(first),
      ...(lengths.length > 1 ? { note: "Content-Length repeated" } : {}),
    };
  }
  return { framing: "close", length: 0 };
}

function readBody(
  buf: Buffer,
  from: number,
  framing: Framing,
  length: number,
  closed: boolean,
): Body {
  if (framing === "none")
    return { body: Buffer.alloc(0), trailers: [], end: from, complete: true, anomalies: [] };
  if (framing === "chunked") return readChunked(buf, from);
  if (framing === "length") {
    const end = Math.min(buf.length, from + length);
    return {
      body: buf.subarray(from, end),
      trailers: [],
      end,
      complete: end === from + length,
      anomalies: [],
    };
  }
  return {
    body: buf.subarray(from),
    trailers: [],
    end: buf.length,
    complete: closed,
    anomalies: [],
  };
}

export interface Interim {
  status: number;
  reason: string;
  fields: Fields;
  /** Offset just past it in the bytes read. */
  end: number;
}

export interface Response {
  version: string;
  status: number;
  reason: string;
  fields: Fields;
  interim: Interim[];
  body: Buffer;
  trailers: Fields;
  framing: Framing;
  complete: boolean;
  /** Offsets in the bytes read: where its first interim or head began, where its head and it ended. */
  start: number;
  headEnd: number;
  end: number;
  anomalies: string[];
  /** 101: what followed the head, the other protocol's bytes. */
  tunnel?: Buffer;
}

export interface ResponseStream {
  responses: Response[];
  /** 1xx responses read with no final response after them (yet). */
  pendingInterim: Interim[];
  /** Bytes after the last complete response that do not start a readable one. */
  rest: Buffer;
  /** Why reading stopped early, if it did. */
  error?: string;
}

/**
 * The responses in what a client read. `methods[i]` is the method of the
 * request the i-th final response answers (HEAD has no body); `closed`: the
 * connection ended, so a close-delimited body is complete.
 */
export function readResponses(
  buf: Buffer,
  methods: readonly string[],
  closed: boolean,
): ResponseStream {
  const responses: Response[] = [];
  let interim: Interim[] = [];
  let pos = 0;
  let start = 0;
  while (pos < buf.length) {
    const head = readHead(buf, pos);
    if (!head) {
      return {
        responses,
        pendingInterim: interim,
        rest: buf.subarray(start),
        ...(closed ? { error: "connection closed inside a head" } : {}),
      };
    }
    const line = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(head.startLine);
    if (!line)
      return {
        responses,
        pendingInterim: interim,
        rest: buf.subarray(start),
        error: `not a status line: ${show(head.startLine, 80)}`,
      };
    const status = Number(line[2]);
    const reason = line[3] ?? "";
    if (status >= 100 && status < 200 && status !== 101) {
      interim.push({ status, reason, fields: head.fields, end: head.end });
      pos = head.end;
      continue;
    }
    const method = methods[responses.length] ?? "GET";
    const bodiless = method === "HEAD" || status === 204 || status === 304 || status === 101;
    const { framing, length, note } = framingOf(head.fields, bodiless);
    const body = readBody(buf, head.end, framing, length, closed);
    const anomalies = [...head.anomalies, ...body.anomalies, ...(note ? [note] : [])];
    if (body.error) anomalies.push(body.error);
    const response: Response = {
      version: line[1]!,
      status,
      reason,
      fields: head.fields,
      interim,
      body: body.body,
      trailers: body.trailers,
      framing,
      complete: body.complete,
      start,
      headEnd: head.end,
      end: body.end,
      anomalies,
    };
    if (status === 101) {
      response.tunnel = buf.subarray(head.end);
      responses.push(response);
      return { responses, pendingInterim: [], rest: Buffer.alloc(0) };
    }
    responses.push(response);
    interim = [];
    if (!body.complete)
      return {
        responses,
        pendingInterim: [],
        rest: Buffer.alloc(0),
        ...(body.error ? { error: body.error } : {}),
      };
    pos = body.end;
    start = pos;
  }
  return { responses, pendingInterim: interim, rest: Buffer.alloc(0) };
}

export interface Request {
  method: string;
  target: string;
  version: string;
  fields: Fields;
  body: Buffer;
  trailers: Fields;
  framing: Framing;
  /** The head has been read (the body may still be coming). */
  headComplete: boolean;
  complete: boolean;
  /** The request's bytes as received. */
  raw: Buffer;
  /** Offset just past it (or past what has come of it). */
  end: number;
  anomalies: string[];
  error?: string;
}

/**
 * The request starting at `from`, as far as it has come: undefined until its
 * head is complete. A request body without Content-Length or chunked coding
 * is empty (RFC 9112 6.3, 7).
 */
export function readRequest(buf: Buffer, from: number): Request | undefined {
  const head = readHead(buf, from);
  if (!head) return undefined;
  const line = /^([^ ]+) ([^ ]+) HTTP\/(\d\.\d)$/.exec(head.startLine);
  const anomalies = [...head.anomalies];
  if (!line) anomalies.push(`irregular request line ${show(head.startLine, 80)}`);
  let framing: Framing;
  let length = 0;
  const te = field(head.fields, "transfer-encoding");
  if (te !== undefined) {
    framing = "chunked";
    if (!/(^|,)\s*chunked\s*$/i.test(te))
      anomalies.push(`Transfer-Encoding ${te} is not chunked-final`);
    if (values(head.fields, "content-length").length > 0)
      anomalies.push("both Transfer-Encoding and Content-Length");
  } else {
    const lengths = values(head.fields, "content-length");
    if (lengths.length > 1) anomalies.push(`Content-Length repeated: ${lengths.join(" | ")}`);
    if (lengths.length > 0 && !/^\d{1,15}$/.test(lengths[0]!))
      anomalies.push(`invalid Content-Length ${lengths[0]}`);
    length = lengths.length > 0 && /^\d{1,15}$/.test(lengths[0]!) ? Number(lengths[0]) : 0;
    framing = length > 0 ? "length" : "none";
  }
  const body = readBody(buf, head.end, framing, length, false);
  anomalies.push(...body.anomalies);
  return {
    method: line?.[1] ?? head.startLine.split(" ")[0] ?? "",
    target: line?.[2] ?? head.startLine.split(" ")[1] ?? "",
    version: line?.[3] ?? "",
    fields: head.fields,
    body: body.body,
    trailers: body.trailers,
    framing,
    headComplete: true,
    complete: body.complete,
    raw: buf.subarray(from, body.end),
    end: body.end,
    anomalies,
    ...(body.error === undefined ? {} : { error: body.error }),
  };
}

/** `body` in chunks of the given sizes, then the last chunk and `trailers` (raw lines, CRLF each). */
export function chunked(body: string, sizes: number[] = [body.length], trailers = ""): string {
  let out = "";
  let pos = 0;
  for (const size of sizes) {
    if (pos >= body.length) break;
    const piece = body.slice(pos, pos + size);
    out += `${piece.length.toString(16)}\r\n${piece}\r\n`;
    pos += piece.length;
  }
  if (pos < body.length) out += `${(body.length - pos).toString(16)}\r\n${body.slice(pos)}\r\n`;
  return `${out}0\r\n${trailers}\r\n`;
}
