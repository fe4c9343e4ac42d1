import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL("../scripts/slapd/", import.meta.url));
const SLAPD = "/usr/sbin/slapd";

export const SLAPD_BASE_DN = "dc=loopstacks,dc=test";

/** The people seeded from scripts/slapd/seed.ldif, with their passwords. */
export const SEEDED = {
  serviceDn: `cn=loopstacks-svc,ou=services,${SLAPD_BASE_DN}`,
  servicePassword: "svc-secret",
  passwords: {
    alice: "alice-secret",
    bob: "bob-secret",
    carol: "carol-secret",
    dave: "dave-secret",
    erin: "erin-secret",
    jsmith: "jsmith-secret",
    "o'brien": "obrien-secret",
    "jürgen": "juergen-secret",
    "paren(s)": "parens-secret",
    "back\\slash": "backslash-secret",
  } as Record<string, string>,
  group: (cn: string) => `cn=${cn},ou=groups,${SLAPD_BASE_DN}`,
  person: (uid: string) => `uid=${uid},ou=people,${SLAPD_BASE_DN}`,
};

export interface Slapd {
  /** `ldap://127.0.0.1:<port>`; StartTLS is available on it. */
  url: string;
  /** `ldaps://127.0.0.1:<port>` */
  ldapsUrl: string;
  /** The test CA that signed the server certificate (for 127.0.0.1 and localhost). */
  caFile: string;
  baseDn: string;
  /** The service account for the search bind. */
  bindDn: string;
  bindPassword: string;
  /** The root account, for tests that change the directory. */
  rootDn: string;
  rootPassword: string;
  dir: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The settings that point LoopStacks at a test directory (plain LDAP, the service account), with `overrides` on top. */
export function slapdSettings(slapd: Slapd, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    LOOPSTACKS_LDAP_URLS: slapd.url,
    LOOPSTACKS_LDAP_INSECURE: "true",
    LOOPSTACKS_LDAP_BIND_DN: slapd.bindDn,
    LOOPSTACKS_LDAP_BIND_PASSWORD: slapd.bindPassword,
    LOOPSTACKS_LDAP_USER_BASE_DN: `ou=people,${slapd.baseDn}`,
    ...overrides,
  };
}

/**
 * A private, seeded OpenLDAP server for one test file: its own temporary directory and free
 * loopback ports, started by scripts/slapd/start.sh. Call `stop()` in `afterAll`.
 */

export async function startSlapd(): Promise<Slapd> {
  if (!existsSync(SLAPD)) {
    throw new Error(
      `${SLAPD} is missing: the LDAP integration tests need OpenLDAP's Debian packages "slapd" and "ldap-utils". Install them with:\n` +
        "  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections\n" +
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils",
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "loopstacks-slapd-"));
  const stop = async () => {
    await run(join(SCRIPTS, "stop.sh"), ["--dir", dir, "--remove"]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  let lastError: unknown;
  // Another process may take a port between choosing it and slapd binding it: try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [port, tlsPort] = [await freePort(), await freePort()];
    try {
      const { stdout } = await run(join(SCRIPTS, "start.sh"), ["--dir", dir, "--port", String(port), "--tls-port", String(tlsPort)], { timeout: 30_000 });
      return {
        url: stdout.trim(),
        ldapsUrl: `ldaps://127.0.0.1:${tlsPort}`,
        caFile: join(dir, "tls", "ca.pem"),
        baseDn: SLAPD_BASE_DN,
        bindDn: SEEDED.serviceDn,
        bindPassword: SEEDED.servicePassword,
        rootDn: `cn=admin,${SLAPD_BASE_DN}`,
        rootPassword: "root-secret",
        dir,
        stop,
      };
    } catch (error) {
      lastError = error;
      await run(join(SCRIPTS, "stop.sh"), ["--dir", dir]).catch(() => {});
    }
  }
  await stop();
  const stderr = (lastError as { stderr?: string } | undefined)?.stderr;
  throw new Error(`slapd did not start: ${stderr || (lastError instanceof Error ? lastError.message : String(lastError))}`);
}
