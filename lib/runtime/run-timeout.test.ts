import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "../../db/schema";
import { createTestRuntime, type TestRuntime } from "../../test/runtime-harness";
import { isAppError } from "../errors";
import type { Identity } from "./types";

describe("a run's timeout", () => {
  let rt: TestRuntime;
  let identity: Identity;

  beforeAll(async () => {
    rt = await createTestRuntime("pglite");
    identity = await rt.grant("timeouts", "operator");
    await rt.registry.register({ id: "timed", type: "http", realm: "timeouts", http: { url: "http://127.0.0.1:9/x" } });
  });

  afterAll(async () => {
    await rt?.closeAll();
  });

  it("is refused as invalid input, before any run is recorded, when it would mean no deadline or overflow the timer", async () => {
    for (const timeoutMs of [0, -1, 2.5, Number.NaN, 2_147_483_648, 3_000_000_000, 1e20]) {
      const error = await rt.executor.run("timed", {}, { identity, timeoutMs }).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(isAppError(error, "invalid_input"), `timeoutMs ${timeoutMs}`).toBe(true);
    }
    expect(await rt.database.db.select({ id: runs.id }).from(runs)).toEqual([]);
  });
});
