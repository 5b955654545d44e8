// What the data plane writes an answer through, whichever protocol the client
// speaks: HTTP/1.1 (response.ts) or an HTTP/2 stream (h2-response.ts). The
// forwarder relays a server's answer into it unchanged either way.

export interface ResponseWriter {
  statusCode: number;
  /** The head has gone to the client; until then an error may still replace it. */
  headersSent: boolean;
  /** end() was called, or the client was lost: nothing more is written. */
  done: boolean;
  /** False: the client connection closes once this answer is out (HTTP/1.1). */
  keepAlive: boolean;
  /** The request waits for a server (a MAXCONN slot or a connection): none of it was sent. */
  queued: boolean;
  /** `headers`: a flat [name, value, ...] list of end-to-end headers, already valid. */
  writeHead(status: number, message: string | undefined, headers: readonly string[]): void;
  /** An interim (1xx) answer, passed on at once. */
  writeInterim(status: number, message: string | undefined, headers: readonly string[]): void;
  /** The head goes out now if it still waits for a body piece. */
  flushHead(): void;
  /** False when the client is full: wait for onceDrain before writing more. */
  write(chunk: Buffer): boolean;
  /** `trailers`: fields to send after the body (already filtered). */
  end(body?: Buffer, trailers?: readonly string[]): void;
  /** The answer cannot be completed: the client sees it broken. */
  destroy(): void;
  onceDrain(listener: () => void): void;
  /** Called once, when the answer is complete or the client is lost before. */
  onClose(listener: () => void): void;
}

/**
 * Fields the proxy adds to every final answer on a connection
 * (Strict-Transport-Security): made once from one list, in the forms each
 * writer needs. A server's fields of these names give way to them.
 */
export interface OwnFields {
  /** [name, value, ...], names in lower case (HTTP/2 takes them so). */
  readonly list: readonly string[];
  readonly names: ReadonlySet<string>;
  /** As HTTP/1.1 header lines. */
  readonly head: string;
}

export function ownFields(list: readonly string[]): OwnFields {
  let head = "";
  const names = new Set<string>();
  for (let i = 0; i < list.length; i += 2) {
    names.add(list[i]!);
    head += `${list[i]}: ${list[i + 1]}\r\n`;
  }
  return { list, names, head };
}

export const NO_OWN_FIELDS: OwnFields = ownFields([]);

/**
 * What every ResponseWriter keeps alike: whether the answer is done, and
 * the listeners told once, when it is complete or its client is lost.
 */
export abstract class AnswerEnd {
  /** end() was called, or the client was lost: nothing more is written. */
  done = false;
  /** The request waits for a server (the forwarder says): none of it was sent. */
  queued = false;
  private closeListeners: (() => void)[] | undefined;

  onClose(listener: () => void): void {
    (this.closeListeners ??= []).push(listener);
  }

  /** The answer is done: the listeners are told (end() calls it once the answer is out). */
  protected closed(): void {
    this.done = true;
    const listeners = this.closeListeners;
    this.closeListeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }

  /** The client was lost before end(). */
  lost(): void {
    if (!this.done) this.closed();
  }
}
