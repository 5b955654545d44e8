import { crossCheck } from "./cross-check.js";
import { parseManifests, type Manifest, type Problem } from "./manifests.js";
import type { SchemaValidator } from "./schema-check.js";

export interface Report {
  manifests: Manifest[];
  problems: Problem[];
  /** Which Service and which disruption budget reach which workload's pods. */
  links: string[];
}

/**
 * A rendered YAML stream checked: every object against its closed schema, then, when all of
 * them pass, the facts between objects (which are only read from well-formed objects).
 */
export function checkManifests(text: string, validator: SchemaValidator): Report {
  const { manifests, problems } = parseManifests(text);
  for (const { name, object } of manifests)
    for (const problem of validator.validate(object)) problems.push({ object: name, ...problem });
  if (problems.length > 0) return { manifests, problems, links: [] };
  return { manifests, ...crossCheck(manifests) };
}
