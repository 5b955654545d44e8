import { Ajv, type ErrorObject } from "ajv";
import formats from "ajv-formats";
import { closeSchema, loadSchemas, SCHEMA_SOURCE, type JsonSchema } from "./schemas.js";

/** One thing wrong with one field of one object. */
export interface FieldProblem {
  /** JSON pointer into the object: `/spec/template/spec/containers/0/imagePullPolicyy`. */
  path: string;
  message: string;
}

// resource.Quantity: a signed decimal number, then a binary (Ki..Ei) or decimal (n, u, m, k,
// M..E) suffix or an exponent; as Kubernetes' own parser reads it.
const QUANTITY = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/;

/** Validates objects against the closed schemas of the pinned Kubernetes version. */
export class SchemaValidator {
  private readonly ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
  /** "apps/v1 Deployment" -> "io.k8s.api.apps.v1.Deployment". */
  private readonly idByType = new Map<string, string>();
  /** Each closed root schema -> its id, to name the type an unknown field was found in. */
  private readonly idBySchema = new WeakMap<object, string>();

  constructor() {
    formats.default(this.ajv, ["int32", "int64", "double", "byte", "date-time"]);
    this.ajv.addFormat("quantity", { type: "string", validate: QUANTITY });
    for (const [id, schema] of loadSchemas()) {
      const closed = closeSchema(schema);
      this.ajv.addSchema(closed, id);
      this.idBySchema.set(closed, id);
      const [apiVersion] = schema.properties?.apiVersion?.enum ?? [];
      const [kind] = schema.properties?.kind?.enum ?? [];
      if (typeof apiVersion === "string" && typeof kind === "string")
        this.idByType.set(`${apiVersion} ${kind}`, id);
    }
  }

  /** Every problem found in one object: wrong types, unknown fields, missing fields. */
  validate(object: Record<string, unknown>): FieldProblem[] {
    const { apiVersion, kind } = object;
    if (typeof apiVersion !== "string" || typeof kind !== "string")
      return [{ path: "/", message: "apiVersion and kind must both be strings" }];
    const id = this.idByType.get(`${apiVersion} ${kind}`);
    if (!id)
      return [
        {
          path: "/",
          message:
            `no schema for apiVersion ${apiVersion} kind ${kind} in Kubernetes ` +
            `${SCHEMA_SOURCE.kubernetes} (${SCHEMA_SOURCE.package} ${SCHEMA_SOURCE.version})`,
        },
      ];
    const validate = this.ajv.getSchema(id);
    if (!validate) throw new Error(`schema ${id} was registered but cannot be compiled`);
    if (validate(object)) return [];
    const problems = explain(validate.errors ?? [], (schema) => this.idBySchema.get(schema));
    return problems.filter(
      (problem, i) =>
        problems.findIndex((p) => p.path === problem.path && p.message === problem.message) === i,
    );
  }
}

/**
 * Ajv's errors as one message per problem. A nullable field is `oneOf: [type, {type: null}]`
 * and IntOrString / Quantity are a `oneOf` of scalars, so one wrong value yields an error per
 * branch and one for the `oneOf`: the null branch is dropped (the other branch's errors say
 * what is wrong), and a `oneOf` of scalars becomes one "must be a string or an integer".
 */
function explain(
  errors: ErrorObject[],
  typeOf: (schema: object) => string | undefined,
): FieldProblem[] {
  const dropped = new Set<ErrorObject>();
  for (const error of errors) {
    if (error.keyword !== "oneOf") continue;
    const branches = error.schema as JsonSchema[];
    const branchErrors = errors.filter(
      (e) =>
        e.instancePath === error.instancePath && e.schemaPath.startsWith(`${error.schemaPath}/`),
    );
    const nullBranch = branches.findIndex((branch) => branch.type === "null");
    if (nullBranch >= 0) {
      dropped.add(error);
      for (const e of branchErrors)
        if (e.schemaPath.startsWith(`${error.schemaPath}/${nullBranch}/`)) dropped.add(e);
    } else {
      for (const e of branchErrors) dropped.add(e);
    }
  }
  return errors.filter((error) => !dropped.has(error)).map((error) => describe(error, typeOf));
}

function describe(error: ErrorObject, typeOf: (schema: object) => string | undefined) {
  const at = error.instancePath;
  switch (error.keyword) {
    case "additionalProperties": {
      const field = String(error.params.additionalProperty);
      const known = Object.keys((error.parentSchema as JsonSchema).properties ?? {});
      const near = closest(field, known);
      const type = typeOf(error.parentSchema ?? {});
      return {
        path: `${at}/${field}`,
        message:
          `unknown field "${field}"` +
          (type ? ` (${type} has no such field)` : "") +
          (near ? `; did you mean "${near}"?` : ""),
      };
    }
    case "required":
      return {
        path: `${at}/${String(error.params.missingProperty)}`,
        message: "required field is missing",
      };
    case "type":
      return {
        path: at || "/",
        message: `must be ${[error.params.type].flat().map(withArticle).join(" or ")}, not ${shown(error.data)}`,
      };
    case "enum":
      return {
        path: at || "/",
        message: `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, not ${shown(error.data)}`,
      };
    case "format":
      return {
        path: at || "/",
        message: `must be a ${error.params.format} value, not ${shown(error.data)}`,
      };
    case "oneOf":
      return {
        path: at || "/",
        message: `must be ${(error.schema as JsonSchema[]).map(scalar).join(" or ")}, not ${shown(error.data)}`,
      };
    default:
      return { path: at || "/", message: error.message ?? error.keyword };
  }
}

/** "an integer (int32)", "a string (quantity)". */
function scalar(schema: JsonSchema): string {
  return withArticle(schema.type ?? "value") + (schema.format ? ` (${schema.format})` : "");
}

function withArticle(type: string): string {
  return `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}

function shown(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `the ${typeof value} ${JSON.stringify(value)}`;
}

/** The known field a misspelt one most likely meant: at most 2 edits away. */
function closest(field: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(field.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length]!;
}
