// The response parser: Node's own llhttp binding, the one node:http's client
// runs, in strict mode. It checks framing (Content-Length against chunked,
// duplicate lengths, bare CR or LF, invalid characters) exactly as Node's
// server checks the requests coming in, so a response that could smuggle a
// second one past the proxy is refused instead of relayed. It is reached
// through `_http_common`, which Node does not document; this is the only file
// that knows its shape, and the proxy fails at start if it changes.

export interface ParserEvents {
  /** The head is complete; return true when the response cannot have a body (HEAD). */
  onHead(
    status: number,
    statusMessage: string,
    rawHeaders: string[],
    upgrade: boolean,
    keepAlive: boolean,
  ): boolean;
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

export interface ResponseParser {
  /** Feeds bytes read from the server; an Error when they are not valid HTTP/1.1. */
  execute(data: Buffer): Error | undefined;
  /** The server closed its side: ends a body read to EOF, or an Error when a message is cut short. */
  finish(): Error | undefined;
}

interface NodeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  [callback: number]: unknown;
}

interface NodeParserClass {
  new (): NodeParser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kLenientNone: number;
}

const common = process.getBuiltinModule("_http_common") as { HTTPParser?: NodeParserClass };
const HTTPParser = common.HTTPParser;
if (
  typeof HTTPParser !== "function" ||
  typeof HTTPParser.RESPONSE !== "number" ||
  typeof HTTPParser.kOnHeadersComplete !== "number"
)
  throw new Error(
    `stickyring needs Node's HTTP parser binding (_http_common.HTTPParser), missing in Node ${process.version}`,
  );
const Parser = HTTPParser;

/** Default `maxHeaderSize` of node:http (16 KiB), as for requests. */
const HEADER_LIMIT = 0;

export function createResponseParser(events: ParserEvents): ResponseParser {
  const parser = new Parser();
  parser.initialize(Parser.RESPONSE, {}, HEADER_LIMIT, Parser.kLenientNone);
  // llhttp hands over headers early when there are many of them or they
  // span several reads; they are gathered here until the head completes.
  let early: string[] = [];
  parser[Parser.kOnHeaders] = (headers: string[]) => {
    for (const field of headers) early.push(field);
  };
  parser[Parser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    statusMessage: string,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    let raw = headers;
    if (early.length > 0) {
      raw = headers ? early.concat(headers) : early;
      early = [];
    }
    // 1: llhttp reads no body for this response.
    return events.onHead(status, statusMessage, raw ?? [], upgrade, keepAlive) ? 1 : 0;
  };
  parser[Parser.kOnBody] = (chunk: Buffer) => events.onBody(chunk);
  parser[Parser.kOnMessageComplete] = () => events.onComplete();
  return {
    execute(data) {
      const result = parser.execute(data);
      return typeof result === "number" ? undefined : result;
    },
    finish() {
      const result = parser.finish();
      return result instanceof Error ? result : undefined;
    },
  };
}
