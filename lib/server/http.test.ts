import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DatabaseHandle } from "../../db/client";
import { DATABASE_KINDS, openTestDatabase } from "../../test/database";
import { AppError } from "../errors";
import { toActionError } from "./action";
import { errorResponse } from "./http";

// Server actions resolve the session through Auth.js, which needs Next's server: not used here.
vi.mock("./actor", () => ({ requireActor: vi.fn() }));
vi.mock("./instance", () => ({ getInstance: vi.fn() }));

describe.each(DATABASE_KINDS)("errors of text the database refuses, on %s", (kind) => {
  let database: DatabaseHandle;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => database?.close());

  const refusal = (query: ReturnType<typeof sql>) => database.db.execute(query).then(
    () => expect.unreachable(),
    (error: unknown) => error,
  );

  it("answers a NUL character in text or in JSON as the caller's invalid input, not an internal error", async () => {
    for (const query of [sql`select ${"a\u0000b"}::text`, sql`select ${JSON.stringify({ note: "x\u0000" })}::jsonb`]) {
      const error = await refusal(query);
      const response = errorResponse(error);
      expect(response.status).toBe(422);
      expect(await response.json()).toEqual({ error: { code: "invalid_input", message: "Text must not contain the NUL character (U+0000)" } });
      expect(toActionError(error)).toEqual({ code: "invalid_input", message: "Text must not contain the NUL character (U+0000)", issues: [] });
    }
  });

  it("keeps other database errors internal", async () => {
    const error = await refusal(sql`select 1 / 0`);
    expect(errorResponse(error).status).toBe(500);
    expect(errorResponse(new AppError("conflict", "exists")).status).toBe(409);
  });
});
