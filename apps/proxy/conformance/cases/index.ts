// Every case of the suite, in groups.

import type { Case } from "../types.js";
import { CONNECTIONS } from "./connections.js";
import { DEFECTS } from "./defects.js";
import { INTERIM } from "./interim.js";
import { PROBE_FINDINGS } from "./probe.js";
import { REQUEST_FRAMING } from "./request-framing.js";
import { REQUEST_SYNTAX } from "./request-syntax.js";
import { RESPONSE_FRAMING } from "./response-framing.js";
import { SPLITS } from "./splits.js";

export const CASES: Case[] = [
  ...DEFECTS,
  ...REQUEST_FRAMING,
  ...REQUEST_SYNTAX,
  ...RESPONSE_FRAMING,
  ...INTERIM,
  ...CONNECTIONS,
  ...SPLITS,
  ...PROBE_FINDINGS,
];
