import { expect, test } from "@playwright/test";

/** Next's routing of /api/v1 on the production server: every answer is JSON, and the catch-all shadows no route. */
test("unknown API paths and wrong methods answer JSON errors; real routes still answer", async ({ request }) => {
  for (const path of ["/api/v1/nope", "/api/v1/loops/demo-echo", "/api/v1/runs/00000000-0000-0000-0000-000000000000/retry", "/api/v1/nope/deeper/still"]) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(404);
    expect(response.headers()["content-type"], path).toMatch(/^application\/json/);
    expect(await response.json(), path).toEqual({ error: { code: "not_found", message: `No such API route: GET ${path}` } });
  }
  const deleted = await request.delete("/api/v1/nope");
  expect(await deleted.json()).toEqual({ error: { code: "not_found", message: "No such API route: DELETE /api/v1/nope" } });

  for (const [method, path, allow] of [
    ["GET", "/api/v1/runs", "OPTIONS, POST"],
    ["PUT", "/api/v1/runs", "OPTIONS, POST"],
    ["PATCH", "/api/v1/runs", "OPTIONS, POST"],
    ["DELETE", "/api/v1/loops", "GET, HEAD, OPTIONS, POST"],
    ["GET", "/api/v1/runs/00000000-0000-0000-0000-000000000000/cancel", "OPTIONS, POST"],
    ["PUT", "/api/v1/runs/00000000-0000-0000-0000-000000000000/cancel", "OPTIONS, POST"],
    ["DELETE", "/api/v1/runs/00000000-0000-0000-0000-000000000000", "GET, HEAD, OPTIONS"],
    ["POST", "/api/v1/openapi.json", "GET, HEAD, OPTIONS"],
    ["POST", "/api/v1", "GET, HEAD, OPTIONS"],
  ] as const) {
    const response = await request.fetch(path, { method });
    expect(response.status(), `${method} ${path}`).toBe(405);
    expect(response.headers()["allow"], `${method} ${path}`).toBe(allow);
    expect(response.headers()["content-type"], `${method} ${path}`).toMatch(/^application\/json/);
    expect(await response.json(), `${method} ${path}`).toMatchObject({ error: { code: "method_not_allowed" } });
  }
  const options = await request.fetch("/api/v1/runs", { method: "OPTIONS" });
  expect(options.status()).toBe(204);
  expect(options.headers()["allow"]).toBe("OPTIONS, POST");

  // The catch-all takes nothing from the real routes, static or dynamic: they still ask for the token.
  for (const [method, path] of [
    ["GET", "/api/v1/loops"],
    ["POST", "/api/v1/runs"],
    ["GET", "/api/v1/runs/00000000-0000-0000-0000-000000000000"],
    ["POST", "/api/v1/runs/00000000-0000-0000-0000-000000000000/cancel"],
    ["POST", "/api/v1/scores"],
    ["POST", "/api/v1/exports"],
  ] as const) {
    const response = await request.fetch(path, { method });
    expect(response.status(), `${method} ${path}`).toBe(401);
    expect(await response.json(), `${method} ${path}`).toMatchObject({ error: { code: "unauthenticated" } });
  }
  expect((await request.get("/api/v1/openapi.json")).status()).toBe(200);
  const index = await request.get("/api/v1");
  expect(index.status()).toBe(200);
  expect(await index.json()).toEqual({ name: "LoopStacks REST API", version: "1", openapi: "/api/v1/openapi.json" });
});
