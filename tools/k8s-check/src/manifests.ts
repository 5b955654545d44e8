import { parseAllDocuments } from "yaml";

/** One problem, named as a user looks for it: the object, the field, what is wrong. */
export interface Problem {
  /** `Deployment/stickyring`. */
  object: string;
  /** JSON pointer into that object: `/spec/replicas`. */
  path: string;
  message: string;
}

/** An object of the rendered stream, with the name problems are reported under. */
export interface Manifest {
  name: string;
  object: Record<string, unknown>;
}

export function formatProblem({ object, path, message }: Problem): string {
  return `${object} ${path}: ${message}`;
}

/**
 * The objects of a YAML stream (what `kubectl kustomize` prints), each named `Kind/name`
 * (`Kind/namespace/name` when it has a namespace). A document that is not YAML, or not a
 * mapping, is a problem of its own, named by its place in the stream.
 */
export function parseManifests(text: string): { manifests: Manifest[]; problems: Problem[] } {
  const manifests: Manifest[] = [];
  const problems: Problem[] = [];
  parseAllDocuments(text).forEach((document, index) => {
    const where = `document ${index + 1}`;
    if (document.errors.length > 0) {
      problems.push({ object: where, path: "/", message: document.errors[0]!.message });
      return;
    }
    const object: unknown = document.toJS();
    if (object === null) return;
    if (typeof object !== "object" || Array.isArray(object)) {
      problems.push({ object: where, path: "/", message: "is not a mapping (an object)" });
      return;
    }
    manifests.push({
      name: nameOf(object as Record<string, unknown>, where),
      object: object as Record<string, unknown>,
    });
  });
  return { manifests, problems };
}

function nameOf(object: Record<string, unknown>, where: string): string {
  const metadata = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const kind = typeof object.kind === "string" ? object.kind : "(no kind)";
  if (typeof metadata.name !== "string") return `${kind} (${where})`;
  return typeof metadata.namespace === "string"
    ? `${kind}/${metadata.namespace}/${metadata.name}`
    : `${kind}/${metadata.name}`;
}
