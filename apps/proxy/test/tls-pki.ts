// Certificates made at run time with the openssl command: a CA of the test's
// own and leaf certificates it signs. Nothing private is committed; every
// key lives in a /tmp/tls-* folder the test removes.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";

export interface Leaf {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  /** Certificate and key in one file, as HAProxy's `crt` takes them. */
  combinedFile: string;
  /** The certificate's SHA-256 fingerprint, as node:tls reports it (fingerprint256). */
  fingerprint: string;
  /** Its serial number, hex, as node:crypto reports it. */
  serial: string;
}

export interface Pki {
  readonly dir: string;
  /** The CA certificate (PEM), for clients to trust. */
  readonly ca: string;
  readonly caFile: string;
  /** A leaf certificate for `names` (DNS subjectAltNames), signed by the CA, written under `dir`. */
  leaf(file: string, names: string[], options?: LeafOptions): Leaf;
  /** A CRL signed by the CA revoking `revoked`, written to `file` under `dir`; its path. */
  crl(file: string, revoked: Leaf[]): string;
  /** The CA's OCSP response (DER) about `leaf`, good or revoked, written to `out`. */
  ocsp(leaf: Leaf, out: string, status?: "good" | "revoked"): void;
  remove(): void;
}

export interface LeafOptions {
  keyType?: "ec" | "rsa";
  dir?: string;
  /** A client's certificate (clientAuth), its subject `subject` (openssl's /O=.../CN=... form). */
  client?: { subject: string };
  /** Its serial number, hex (another certificate's, for a twin from another CA). */
  serial?: string;
}

const openssl = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

function keyArgs(keyType: "ec" | "rsa"): string[] {
  return keyType === "ec"
    ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    : ["-newkey", "rsa:2048"];
}

export function createPki(name = "stickyring test CA"): Pki {
  const dir = mkdtempSync("/tmp/tls-pki-");
  openssl(
    [
      "req",
      "-x509",
      ...keyArgs("ec"),
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const caFile = join(dir, "ca.pem");
  let serial = 1;
  return {
    dir,
    ca: readFileSync(caFile, "utf8"),
    caFile,
    leaf(file, names, options = {}) {
      const out = options.dir ?? dir;
      const certFile = join(out, `${file}.pem`);
      const keyFile = join(out, `${file}.key`);
      const ext = join(dir, `${file}.ext`);
      writeFileSync(
        ext,
        `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=${options.client ? "clientAuth" : "serverAuth"}\n`,
      );
      openssl(
        [
          "req",
          "-new",
          ...keyArgs(options.keyType ?? "ec"),
          "-nodes",
          "-keyout",
          keyFile,
          "-out",
          join(dir, `${file}.csr`),
          "-subj",
          options.client?.subject ?? `/CN=${names[0]}`,
        ],
        dir,
      );
      openssl(
        [
          "x509",
          "-req",
          "-in",
          join(dir, `${file}.csr`),
          "-CA",
          caFile,
          "-CAkey",
          "ca.key",
          "-set_serial",
          options.serial === undefined ? String(serial++ + Date.now()) : `0x${options.serial}`,
          "-out",
          certFile,
          "-days",
          "2",
          "-extfile",
          ext,
        ],
        dir,
      );
      const cert = readFileSync(certFile, "utf8");
      const key = readFileSync(keyFile, "utf8");
      const combinedFile = join(dir, `${file}.combined.pem`);
      writeFileSync(combinedFile, cert + key);
      const fingerprint = openssl(
        ["x509", "-noout", "-fingerprint", "-sha256", "-in", certFile],
        dir,
      )
        .toString()
        .trim()
        .split("=")[1]!;
      const { serialNumber } = new X509Certificate(cert);
      return { cert, key, certFile, keyFile, combinedFile, fingerprint, serial: serialNumber };
    },
    crl(file, revoked) {
      // openssl ca keeps its records in a text database: one line per revoked certificate.
      const when = "260101000000Z";
      writeFileSync(
        join(dir, "index.txt"),
        revoked
          .map((leaf) => `R\t991231235959Z\t${when}\t${leaf.serial}\tunknown\t/CN=revoked\n`)
          .join(""),
      );
      writeFileSync(
        join(dir, "ca.cnf"),
        [
          "[ca]",
          "default_ca = test",
          "[test]",
          `database = ${join(dir, "index.txt")}`,
          `crlnumber = ${join(dir, "crlnumber")}`,
          "default_md = sha256",
          "default_crl_days = 2",
          "",
        ].join("\n"),
      );
      writeFileSync(join(dir, "crlnumber"), "01\n");
      const out = join(dir, file);
      openssl(
        [
          "ca",
          "-gencrl",
          "-config",
          "ca.cnf",
          "-keyfile",
          "ca.key",
          "-cert",
          "ca.pem",
          "-out",
          out,
        ],
        dir,
      );
      return out;
    },
    ocsp(leaf, out, status = "good") {
      // openssl ocsp answers from a text database like openssl ca's: one line for the leaf.
      const line =
        status === "good"
          ? `V\t991231235959Z\t\t${leaf.serial}\tunknown\t/CN=leaf\n`
          : `R\t991231235959Z\t260101000000Z\t${leaf.serial}\tunknown\t/CN=leaf\n`;
      writeFileSync(join(dir, "ocsp-index.txt"), line);
      const request = join(dir, "ocsp-request.der");
      openssl(
        ["ocsp", "-issuer", caFile, "-cert", leaf.certFile, "-reqout", request, "-no_nonce"],
        dir,
      );
      openssl(
        [
          "ocsp",
          "-index",
          "ocsp-index.txt",
          "-rsigner",
          caFile,
          "-rkey",
          "ca.key",
          "-CA",
          caFile,
          "-reqin",
          request,
          "-respout",
          out,
          "-ndays",
          "1",
        ],
        dir,
      );
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
