// Node's own llhttp binding, the parser node:http runs, reached through
// `_http_common`, which Node does not document. This is the only file that
// knows its shape; when it is gone, the proxy runs on the express engine
// (llhttpProblem). Both sides use it in strict mode: requests from clients
// (downstream/) and responses from servers (upstream/), so framing is
// checked the same way in both directions (Content-Length against chunked,
// duplicate lengths, bare CR or LF, invalid characters) and nothing that
// could smuggle a second message gets through.

export interface NodeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Bytes parsed, or an Error with `code` (HPE_*) and `bytesParsed`. */
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  /** Frees the native parser now rather than when the object is collected; never used after. */
  close(): void;
  /**
   * Takes a socket's reads (its native handle): each goes to llhttp in C++,
   * into a buffer all parsers share, and `kOnExecute` is called with what
   * `execute` would have returned. No 'data' event is emitted meanwhile.
   */
  consume(handle: object): void;
  /** Gives the reads back to the socket ('data' events). */
  unconsume(): void;
  /** A copy of the read being parsed (inside `kOnExecute`). */
  getCurrentBuffer(): Buffer;
  [callback: number]: unknown;
}

interface NodeParserClass {
  new (): NodeParser;
  readonly prototype: NodeParser;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}

interface HttpCommon {
  HTTPParser?: NodeParserClass;
  methods?: string[];
}

/**
 * Why the binding cannot serve here, or undefined when it can. `common` is
 * the `_http_common` module (a parameter, so a test can hand in one without
 * the binding). Node deprecated reaching it (DEP0199): a release may remove
 * it, and then the proxy runs on the express engine (data-plane/engine.ts).
 */
export function llhttpProblem(common: unknown): string | undefined {
  const { HTTPParser, methods } = (common ?? {}) as HttpCommon;
  if (
    typeof HTTPParser !== "function" ||
    typeof HTTPParser.REQUEST !== "number" ||
    typeof HTTPParser.RESPONSE !== "number" ||
    typeof HTTPParser.kOnHeadersComplete !== "number" ||
    typeof HTTPParser.kOnExecute !== "number" ||
    typeof HTTPParser.prototype.consume !== "function" ||
    typeof HTTPParser.prototype.unconsume !== "function" ||
    typeof HTTPParser.prototype.getCurrentBuffer !== "function" ||
    !Array.isArray(methods)
  )
    return `Node's HTTP parser binding (_http_common.HTTPParser) is missing in Node ${process.version}`;
  return undefined;
}

const common = process.getBuiltinModule("_http_common") as HttpCommon | undefined;

/**
 * The binding's parser class and method names. Read only once
 * llhttpProblem() has found them (the engine is chosen before any parser is
 * made): importing this file never throws, whatever Node has removed.
 */
export const Parser = common?.HTTPParser as NodeParserClass;
/** Method names by the number llhttp reports. */
export const METHODS: readonly string[] = common?.methods ?? [];

/** Default `maxHeaderSize` of node:http (16 KiB): 431 beyond it. */
const HEADER_LIMIT = 0;

/** A strict parser for requests (`Parser.REQUEST`) or responses (`Parser.RESPONSE`). */
export function createParser(type: number): NodeParser {
  const parser = new Parser();
  restartParser(parser, type);
  return parser;
}

/**
 * Starts a parser again at a message boundary. Needed after llhttp was
 * stopped at the end of a message (2 from kOnHeadersComplete): it keeps
 * that message's upgrade flag, and while it is set node's binding reports
 * no error, so bytes it cannot parse after the stop would be taken as
 * nothing at all (no answer, the connection left open).
 */
export function restartParser(parser: NodeParser, type: number): void {
  parser.initialize(type, {}, HEADER_LIMIT, Parser.kLenientNone);
}

/**
 * llhttp reads framing and Connection fields in trailers as it reads them in
 * a head: after `Transfer-Encoding` or `Connection: close` there it takes no
 * further message on the connection. Such a message is the connection's last.
 */
export function closesConnection(trailers: readonly string[] | undefined): boolean {
  if (trailers === undefined) return false;
  for (let i = 0; i < trailers.length; i += 2) {
    const name = trailers[i]!.toLowerCase();
    if (name === "transfer-encoding" || name === "connection") return true;
  }
  return false;
}

/**
 * The header lines of one message that llhttp hands over outside
 * kOnHeadersComplete. Node's binding passes a head's lines on early
 * (kOnHeaders) when there are many of them or they span reads, and the
 * trailers of a chunked body the same way, just before kOnMessageComplete,
 * with the message's URL again. Early lines belong to the head; lines that
 * come after the head are trailers and must never reach the next message's
 * head. A message's state begins after the previous message completes;
 * `head` takes what came before its head, `end` what came after it.
 */
export class MessageFields {
  private fields: string[] = [];
  private url = "";
  /** The head is complete: lines handed over now are trailers. */
  private inBody = false;

  /** kOnHeaders. */
  add(fields: readonly string[], url: string | undefined): void {
    for (const field of fields) this.fields.push(field);
    if (!this.inBody && url) this.url += url;
  }

  /** kOnHeadersComplete: the head's target (requests), with what llhttp passed early first. */
  target(url: string | undefined): string {
    const target = this.url + (url ?? "");
    this.url = "";
    return target;
  }

  /** kOnHeadersComplete: the head's lines, those llhttp passed early first. Lines from now on are trailers. */
  head(headers: string[] | undefined): string[] {
    this.inBody = true;
    if (this.fields.length === 0) return headers ?? [];
    const raw = headers ? this.fields.concat(headers) : this.fields;
    this.fields = [];
    return raw;
  }

  /** kOnMessageComplete: the trailers, if any; the next message starts empty. */
  end(): string[] | undefined {
    const trailers = this.fields.length > 0 ? this.fields : undefined;
    this.reset();
    return trailers;
  }

  /** The message was abandoned (a refused head, a connection handed over). */
  reset(): void {
    this.fields = [];
    this.url = "";
    this.inBody = false;
  }
}
