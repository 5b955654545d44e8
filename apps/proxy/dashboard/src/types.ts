// The shapes the admin API sends (see src/describe.ts and src/dashboard.ts).

export interface CheckView {
  ok: boolean;
  at: number;
  detail: string;
}

export interface ServerView {
  id: string;
  numericId: number;
  url: string;
  weight: number;
  state: "ready" | "drain" | "maint";
  health: "up" | "down";
  inPlacement: boolean;
  share: number;
  requests: number;
  inFlight: number;
  checks: CheckView[];
}

export interface Arc {
  server: string | null;
  from: number;
  to: number;
}

export type Balance =
  | { kind: "source" }
  | { kind: "uri"; whole: boolean; len: number; depth: number; pathOnly: boolean }
  | { kind: "hdr"; header: string };

export interface Snapshot {
  at: number;
  balance: Balance;
  hashType: string;
  balanceFactor: number | null;
  placementVersion: number;
  servers: ServerView[];
  traffic: { intervalMs: number; rates: Record<string, number[]> };
  ring: { version: number; home: Arc[]; live: Arc[] };
}

export interface Flow {
  from: string | null;
  to: string | null;
  share: number;
}

export interface Moves {
  moved: number;
  flows: Flow[];
  shares: Record<string, number>;
}

export interface Lookup {
  key: string;
  hash: number;
  server: string | null;
}
