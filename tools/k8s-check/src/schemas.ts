import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { compileFunction } from "node:vm";

/**
 * Where the schemas come from. kubernetes-models 4.3.x is the last release that ships the
 * OpenAPI schemas as data (4.4.0 and later ship only validators compiled from them, which
 * cannot be made strict); its 4.3.0 changelog entry: "Update schema version to v1.27.1".
 */
export const SCHEMA_SOURCE = {
  package: "kubernetes-models",
  version: "4.3.1",
  kubernetes: "1.27.1",
} as const;

/** The slice of JSON Schema (OpenAPI 3 flavour) that the Kubernetes schemas use. */
export interface JsonSchema {
  type?: string;
  format?: string;
  enum?: unknown[];
  nullable?: boolean;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  $ref?: string;
}

const REGISTRY = "@kubernetes-models/validate";

/**
 * Every schema the installed kubernetes-models registers, by id
 * ("io.k8s.api.apps.v1.Deployment"), with those of @kubernetes-models/apimachinery that they
 * refer to. Each `_schemas/*.js` file of the package is a CommonJS module whose `addSchema()`
 * hands its schema object to `register(id, schema)` of @kubernetes-models/validate; the
 * modules are run here with a `require` that gives them a `register` keeping the schema.
 */
export function loadSchemas(): Map<string, JsonSchema> {
  const packageDir = dirname(createRequire(import.meta.url).resolve(SCHEMA_SOURCE.package));
  const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
    version: string;
  };
  if (version !== SCHEMA_SOURCE.version)
    throw new Error(
      `${SCHEMA_SOURCE.package} ${version} is installed, but this check reads the schemas of ` +
        `${SCHEMA_SOURCE.version} (Kubernetes ${SCHEMA_SOURCE.kubernetes}); versions from 4.4.0 ` +
        `ship compiled validators instead of schemas: pin ${SCHEMA_SOURCE.version} again`,
    );

  const schemas = new Map<string, JsonSchema>();
  const register = (id: string, schema: JsonSchema) => schemas.set(id, schema);
  const modules = new Map<string, { addSchema?: () => void }>();
  const load = (file: string): { addSchema?: () => void } => {
    const loaded = modules.get(file);
    if (loaded) return loaded;
    const exports: { addSchema?: () => void } = {};
    modules.set(file, exports);
    const resolve = createRequire(file).resolve;
    const run = compileFunction(readFileSync(file, "utf8"), ["exports", "require"], {
      filename: file,
    });
    run(exports, (specifier: string) =>
      specifier === REGISTRY ? { register } : load(resolve(specifier)),
    );
    return exports;
  };

  const schemaDir = join(packageDir, "_schemas");
  for (const name of readdirSync(schemaDir).filter((file) => file.endsWith(".js")))
    load(join(schemaDir, name)).addSchema?.();
  return schemas;
}

/**
 * The schema made strict: every object schema that lists its `properties` and says nothing
 * of others gets `additionalProperties: false`, as the API server's strict field validation
 * refuses unknown fields. Left as they are: maps (labels, annotations, resources.limits),
 * which state their `additionalProperties`; IntOrString and Quantity, which are a `oneOf` of
 * scalars and have no properties; and the free-form objects (RawExtension, FieldsV1, JSON),
 * which have neither.
 */
export function closeSchema(schema: JsonSchema): JsonSchema {
  const closed: JsonSchema = { ...schema };
  if (schema.properties) {
    closed.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([name, property]) => [name, closeSchema(property)]),
    );
    closed.additionalProperties ??= false;
  }
  if (typeof schema.additionalProperties === "object")
    closed.additionalProperties = closeSchema(schema.additionalProperties);
  if (schema.items) closed.items = closeSchema(schema.items);
  if (schema.oneOf) closed.oneOf = schema.oneOf.map(closeSchema);
  return closed;
}
