// Node's own llhttp binding, the parser node:http runs, reached through
// `_http_common`, which Node does not document. This is the only file that
// knows its shape; the proxy fails at start if it changes. Both sides use it
// in strict mode: requests from clients (downstream/) and responses from
// servers (upstream/), so framing is checked the same way in both directions
// (Content-Length against chunked, duplicate lengths, bare CR or LF, invalid
// characters) and nothing that could smuggle a second message gets through.

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

const common = process.getBuiltinModule("_http_common") as {
  HTTPParser?: NodeParserClass;
  methods?: string[];
};
const { HTTPParser, methods } = common;
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
  throw new Error(
    `stickyring needs Node's HTTP parser binding (_http_common.HTTPParser), missing in Node ${process.version}`,
  );

export const Parser = HTTPParser;
/** Method names by the number llhttp reports. */
export const METHODS: readonly string[] = methods;

/** Default `maxHeaderSize` of node:http (16 KiB): 431 beyond it. */
const HEADER_LIMIT = 0;

/** A strict parser for requests (`Parser.REQUEST`) or responses (`Parser.RESPONSE`). */
export function createParser(type: number): NodeParser {
  const parser = new Parser();
  parser.initialize(type, {}, HEADER_LIMIT, Parser.kLenientNone);
  return parser;
}
