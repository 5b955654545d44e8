import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { parseAllDocuments, parseDocument, type Document } from "yaml";
import { checkManifests, type Report } from "../src/check.js";
import { formatProblem } from "../src/manifests.js";
import { render, renderWithComponent } from "../src/render.js";
import { SchemaValidator } from "../src/schema-check.js";

const base = fileURLToPath(new URL("../../../deploy/kubernetes", import.meta.url));
const kubectl = process.env.KUBECTL ?? "kubectl";
const CONTAINER = ["spec", "template", "spec", "containers", 0];

let validator: SchemaValidator;
const copies: string[] = [];
beforeAll(() => {
  validator = new SchemaValidator();
});
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the base with one file edited (comments kept), rendered by kubectl and checked. */
function checkEditedCopy(file: string, edit: (document: Document) => void): Report {
  const copy = mkdtempSync(join(tmpdir(), "k8s-check-test-"));
  copies.push(copy);
  cpSync(base, copy, { recursive: true });
  const document = parseDocument(readFileSync(join(copy, file), "utf8"));
  edit(document);
  writeFileSync(join(copy, file), document.toString());
  return checkManifests(render(kubectl, copy), validator);
}

type Find = (kind: string, name: string) => Document;

/** The rendered base with objects changed in place, checked without another render. */
function checkChangedRender(change: (find: Find) => void): Report {
  const documents: Document[] = parseAllDocuments(render(kubectl, base));
  change(finder(documents));
  return checkManifests(documents.map((d) => d.toString()).join("---\n"), validator);
}

function finder(documents: Document[]): Find {
  return (kind, name) => {
    const found = documents.find(
      (d) => d.get("kind") === kind && d.getIn(["metadata", "name"]) === name,
    );
    if (!found) throw new Error(`${kind}/${name} is not in the render`);
    return found;
  };
}

const messages = (report: Report) => report.problems.map(formatProblem);

describe("the real base", () => {
  test("renders and passes every check, with the Services, budget and SRV name linked", () => {
    const report = checkManifests(render(kubectl, base), validator);
    expect(messages(report)).toEqual([]);
    expect(report.manifests.map((m) => m.name).sort()).toEqual([
      "Deployment/stickyring",
      "Deployment/web",
      "PodDisruptionBudget/stickyring",
      "Service/stickyring",
      "Service/web",
    ]);
    expect(report.links).toEqual(
      expect.arrayContaining([
        'Service/stickyring port 80 -> Deployment/stickyring port "http"',
        'Service/web port 5000 -> Deployment/web port "http"',
        "PodDisruptionBudget/stickyring -> Deployment/stickyring",
        "Deployment/stickyring BACKENDS web=dns+srv://_http._tcp.web -> Service/web (headless, port http/TCP)",
      ]),
    );
  });

  test("with the AWS NLB PROXY protocol component it passes too, and turns ACCEPT_PROXY on", () => {
    const text = renderWithComponent(
      kubectl,
      base,
      join(base, "components/aws-nlb-proxy-protocol"),
    );
    expect(messages(checkManifests(text, validator))).toEqual([]);
    const proxy = finder(parseAllDocuments(text))("Deployment", "stickyring").toJS() as IDeployment;
    const container = proxy.spec!.template.spec!.containers[0]!;
    expect(container.env).toContainEqual({ name: "ACCEPT_PROXY", value: "on" });
    expect(container.readinessProbe).toEqual(
      expect.objectContaining({ tcpSocket: { port: "http" } }),
    );
    expect(container.readinessProbe!.httpGet).toBeUndefined();
  });
});

describe("a copy of the base, edited, rendered by kubectl and refused", () => {
  test("a misspelt field (imagePullPolicyy) is refused, naming the object and the path", () => {
    const report = checkEditedCopy("stickyring-deployment.yaml", (document) => {
      document.deleteIn([...CONTAINER, "imagePullPolicy"]);
      document.setIn([...CONTAINER, "imagePullPolicyy"], "IfNotPresent");
    });
    expect(messages(report)).toEqual([
      'Deployment/stickyring /spec/template/spec/containers/0/imagePullPolicyy: unknown field "imagePullPolicyy" (io.k8s.api.core.v1.Container has no such field); did you mean "imagePullPolicy"?',
    ]);
  });

  test('replicas: "two" is refused as a string where an integer belongs', () => {
    const report = checkEditedCopy("stickyring-deployment.yaml", (document) => {
      document.setIn(["spec", "replicas"], "two");
    });
    expect(messages(report)).toEqual([
      'Deployment/stickyring /spec/replicas: must be an integer, not the string "two"',
    ]);
  });

  test("a container without its required name is refused", () => {
    const report = checkEditedCopy("web-deployment.yaml", (document) => {
      document.deleteIn([...CONTAINER, "name"]);
    });
    expect(messages(report)).toEqual([
      "Deployment/web /spec/template/spec/containers/0/name: required field is missing",
    ]);
  });

  test("an unknown field in a nullable object (the Service's spec) is refused", () => {
    const report = checkEditedCopy("web-service.yaml", (document) => {
      document.setIn(["spec", "publishNotReadyAdresses"], false);
    });
    expect(messages(report)).toEqual([
      'Service/web /spec/publishNotReadyAdresses: unknown field "publishNotReadyAdresses" (io.k8s.api.core.v1.ServiceSpec has no such field); did you mean "publishNotReadyAddresses"?',
    ]);
  });
});

describe("the schema's special cases", () => {
  test("IntOrString takes a string or an integer and nothing else", () => {
    const maxSurge = ["spec", "strategy", "rollingUpdate", "maxSurge"];
    const accepted = checkChangedRender((find) => {
      find("Deployment", "stickyring").setIn(maxSurge, "25%");
    });
    expect(messages(accepted)).toEqual([]);
    const refused = checkChangedRender((find) => {
      find("Deployment", "stickyring").setIn(maxSurge, true);
    });
    expect(messages(refused)).toEqual([
      "Deployment/stickyring /spec/strategy/rollingUpdate/maxSurge: must be a string or an integer (int32), not the boolean true",
    ]);
  });

  test("a Quantity is a number or a quantity string", () => {
    const accepted = checkChangedRender((find) => {
      find("Deployment", "stickyring").setIn([...CONTAINER, "resources", "requests"], {
        cpu: 0.25,
        memory: "134217728",
      });
    });
    expect(messages(accepted)).toEqual([]);
    const refused = checkChangedRender((find) => {
      find("Deployment", "stickyring").setIn(
        [...CONTAINER, "resources", "limits", "memory"],
        "256 MB",
      );
    });
    expect(messages(refused)).toEqual([
      'Deployment/stickyring /spec/template/spec/containers/0/resources/limits/memory: must be a number or a string (quantity), not the string "256 MB"',
    ]);
  });

  test("labels and annotations are maps: any key, string values only", () => {
    const accepted = checkChangedRender((find) => {
      find("Service", "web").setIn(["metadata", "annotations"], { "example.com/any-key": "x" });
    });
    expect(messages(accepted)).toEqual([]);
    const refused = checkChangedRender((find) => {
      find("Service", "web").setIn(["metadata", "labels", "replicas"], 3);
    });
    expect(messages(refused)).toEqual([
      "Service/web /metadata/labels/replicas: must be a string, not the number 3",
    ]);
  });

  test("an enum value outside the schema's list is refused", () => {
    const report = checkChangedRender((find) => {
      find("Deployment", "stickyring").setIn([...CONTAINER, "imagePullPolicy"], "Sometimes");
    });
    expect(messages(report)).toEqual([
      'Deployment/stickyring /spec/template/spec/containers/0/imagePullPolicy: must be one of "Always", "IfNotPresent", "Never", not the string "Sometimes"',
    ]);
  });

  test("a kind the pinned Kubernetes version does not have is refused", () => {
    const report = checkChangedRender((find) => {
      find("PodDisruptionBudget", "stickyring").set("apiVersion", "policy/v2");
    });
    expect(messages(report)).toEqual([
      "PodDisruptionBudget/stickyring /: no schema for apiVersion policy/v2 kind PodDisruptionBudget in Kubernetes 1.27.1 (kubernetes-models 4.3.1)",
    ]);
  });
});

describe("facts between objects", () => {
  test("a Deployment whose selector misses its own pod labels", () => {
    const report = checkChangedRender((find) => {
      find("Deployment", "stickyring").setIn(
        ["spec", "selector", "matchLabels", "app.kubernetes.io/name"],
        "stickyring-proxy",
      );
    });
    expect(messages(report)).toContain(
      "Deployment/stickyring /spec/selector: does not select the labels of its own pod template (/spec/template/metadata/labels); the API server refuses this",
    );
  });

  test("a probe on a port the container does not declare", () => {
    const report = checkChangedRender((find) => {
      find("Deployment", "stickyring").setIn(
        [...CONTAINER, "readinessProbe", "httpGet", "port"],
        8404,
      );
    });
    expect(messages(report)).toEqual([
      'Deployment/stickyring /spec/template/spec/containers/0/readinessProbe/httpGet/port: probes port 8404, which container "stickyring" does not declare (declared: http=8080)',
    ]);
  });

  test("a Service that selects no pods, and one whose target port is not declared", () => {
    const report = checkChangedRender((find) => {
      find("Service", "stickyring").setIn(["spec", "selector"], {
        "app.kubernetes.io/name": "proxy",
      });
      find("Service", "web").setIn(["spec", "ports", 0, "targetPort"], "web");
    });
    expect(messages(report)).toEqual([
      "Service/stickyring /spec/selector: selects the pods of no workload in the render",
      'Service/web /spec/ports/0/targetPort: targets port "web", which no container of Deployment/web declares (declared: http=5000)',
    ]);
  });

  test("a disruption budget that selects no pods", () => {
    const report = checkChangedRender((find) => {
      find("PodDisruptionBudget", "stickyring").setIn(["spec", "selector"], {
        matchExpressions: [
          { key: "app.kubernetes.io/component", operator: "In", values: ["gateway"] },
        ],
      });
    });
    expect(messages(report)).toEqual([
      "PodDisruptionBudget/stickyring /spec/selector: selects the pods of no workload in the render",
    ]);
  });

  test("BACKENDS naming a Service that is not headless, or has no such SRV port", () => {
    const notHeadless = checkChangedRender((find) => {
      find("Service", "web").deleteIn(["spec", "clusterIP"]);
    });
    expect(messages(notHeadless)).toEqual([
      'Deployment/stickyring /spec/template/spec/containers/0/env/0/value: BACKENDS entry "web=dns+srv://_http._tcp.web": Service "web" is not headless (spec.clusterIP: None): DNS would answer with its one virtual IP, and the proxies would see one server',
    ]);
    const noPort = checkChangedRender((find) => {
      find("Service", "web").setIn(["spec", "ports", 0, "name"], "web");
    });
    expect(messages(noPort)).toEqual([
      'Deployment/stickyring /spec/template/spec/containers/0/env/0/value: BACKENDS entry "web=dns+srv://_http._tcp.web": Service "web" has no TCP port named "http", so there is no SRV record for it',
    ]);
  });
});

test("without kubectl the check stops with a message that says what to install", () => {
  expect(() => render("/nonexistent/kubectl", base)).toThrow(
    /kubectl not found \(looked for "\/nonexistent\/kubectl"\).*Install kubectl/,
  );
});
