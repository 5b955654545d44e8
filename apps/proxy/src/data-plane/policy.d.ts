// The data plane's policy names as types only. A declaration file, so the
// dashboard's browser build (dashboard/) can read them through
// control-plane/views.d.ts without compiling the proxy's modules.

/** HAProxy's `balance`: the client address, the URI (with its options), or a header. */
export type Balance =
  | { kind: "source" }
  | { kind: "uri"; whole: boolean; len: number; depth: number; pathOnly: boolean }
  | { kind: "hdr"; header: string };

/** The operator's state of a server, as HAProxy's ready / drain / maint. */
export type AdminState = "ready" | "drain" | "maint";
