import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner } from "../../test/cli";

const root = mkdtempSync(join(tmpdir(), "loopstacks-apply-"));
const loopstacks = cliRunner(() => join(root, "data"));

function file(name: string, content: string | Buffer): string {
  const path = join(root, name);
  writeFileSync(path, content);
  return path;
}

const httpLoop = (id: string, realm: string, url = "http://127.0.0.1:9/x") => `  - { id: ${id}, type: http, realm: ${realm}, http: { url: "${url}" } }\n`;

afterAll(() => rmSync(root, { recursive: true, force: true }));

// Each command boots its own embedded database.
describe("loopstacks apply", { timeout: 120_000 }, () => {
  it("applies a file whole or not at all, and a dry run refuses what the apply refuses", async () => {
    expect((await loopstacks("apply", "-f", file("first.yaml", `loops:\n${httpLoop("moved", "r1")}`))).code).toBe(0);
    const mixed = file(
      "mixed.yaml",
      `realms:\n  - id: newrealm\n    mappings:\n      - { group: "cn=new-admins,ou=groups,dc=example,dc=org", role: admin }\nloops:\n${httpLoop("fresh", "r1")}${httpLoop("moved", "r2")}`,
    );
    const dry = await loopstacks("apply", "-f", mixed, "--dry-run");
    expect(dry.code).toBe(1);
    expect(dry.stderr).toContain('Loop "moved" belongs to realm "r1"');
    const applied = await loopstacks("apply", "-f", mixed);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain('[1].realm: must stay "r1"');
    expect(applied.stdout).toBe("");
    const realms = await loopstacks("realm", "list");
    expect(realms.stdout).not.toContain("newrealm");
    // "fresh" was not written: applying it alone creates it.
    expect((await loopstacks("apply", "-f", file("fresh.yaml", `loops:\n${httpLoop("fresh", "r1")}`))).stdout).toMatch(/created\s+fresh/);
  });

  it("prints what a dry run would change, writes nothing, and names a duplicate at its position in the file", async () => {
    const changes = file("changes.yaml", `loops:\n${httpLoop("moved", "r1", "http://127.0.0.1:9/new")}${httpLoop("dry-new", "r1")}`);
    const dry = await loopstacks("apply", "-f", changes, "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/updated\s+moved \(http, realm r1, revision 2\)/);
    expect(dry.stdout).toMatch(/created\s+dry-new/);
    expect(dry.stdout).toContain("2 changed, 0 unchanged; nothing written (--dry-run)");
    expect((await loopstacks("apply", "-f", changes)).stdout).toMatch(/created\s+dry-new/);

    const duplicate = file("duplicate.yaml", `loops:\n  - { id: Bad }\n${httpLoop("dupx", "r1")}${httpLoop("dupx", "r1", "http://127.0.0.1:9/y")}`);
    for (const args of [["--dry-run"], []]) {
      const result = await loopstacks("apply", "-f", duplicate, ...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('[2].id: loop "dupx" is defined twice');
      expect(result.stderr).not.toContain("[1].id");
    }
  });

  it("refuses a file that is not UTF-8, naming the file and the byte, and shows where YAML breaks", async () => {
    // "café" in Latin-1.
    const latin1 = file("latin1.yaml", Buffer.concat([Buffer.from("loops:\n  - id: caf"), Buffer.from([0xe9]), Buffer.from("\n")]));
    const refused = await loopstacks("apply", "-f", latin1);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${latin1} is not valid UTF-8: byte 0xE9 at byte offset 18`);

    const broken = await loopstacks("apply", "-f", file("broken.yaml", "loops:\n  - id: x\n   type: http\n- bad\n"));
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("at line 3, column 1:");
    expect(broken.stderr).toContain("   type: http");
  });
});
