import { hostname } from "node:os";
import { LOG_LEVELS } from "@stickyring/runtime";
import { z } from "zod";

const schema = z.object({
  PORT: z.coerce
    .number({ error: "PORT must be a port number from 0 to 65535" })
    .int("PORT must be a port number from 0 to 65535")
    .min(0, "PORT must be a port number from 0 to 65535")
    .max(65535, "PORT must be a port number from 0 to 65535")
    .optional(),
  HOST: z.string().min(1).optional(),
  BACKEND_NAME: z
    .string()
    .regex(
      /^(@hostname|[A-Za-z0-9][A-Za-z0-9._-]{0,62})$/,
      "BACKEND_NAME must be a name of letters, digits, '.', '_' or '-' (at most 63), or @hostname",
    )
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
});

export interface BackendConfig {
  port: number;
  host: string | undefined;
  /** The name it answers with; undefined: appN. */
  name: string | undefined;
  logLevel: z.infer<typeof schema>["LOG_LEVEL"];
}

/** Reads the environment once; throws an Error naming every bad setting. */
export function readBackendConfig(env: NodeJS.ProcessEnv, defaultPort: number): BackendConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) =>
        `${issue.path.join(".")}=${JSON.stringify(env[String(issue.path[0])])}: ${issue.message}`,
    );
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  return {
    port: parsed.data.PORT ?? defaultPort,
    host: parsed.data.HOST,
    // @hostname: the container's or pod's own name, so replicas of one image tell themselves apart.
    name: parsed.data.BACKEND_NAME === "@hostname" ? hostname() : parsed.data.BACKEND_NAME,
    logLevel: parsed.data.LOG_LEVEL,
  };
}
