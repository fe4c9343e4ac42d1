import { sql } from "drizzle-orm";
import { connection } from "next/server";
import { getQueueHealth } from "@/db/queries/cluster";
import { getInstance } from "@/lib/server/instance";
import packageJson from "@/package.json";

/** Liveness for load balancers and the CLI: no session needed, nothing sensitive returned. */
export async function GET(): Promise<Response> {
  await connection();
  const headers = { "cache-control": "no-store" };
  try {
    const instance = await getInstance();
    await instance.database.db.execute(sql`select 1`);
    // Counts only: nothing about any realm's runs is public.
    const queue = await getQueueHealth(instance.database.db, { countsRunsInProgress: instance.config.execution !== "direct" });
    return Response.json(
      { status: "ok", database: instance.database.kind, model: instance.config.model.mode, version: packageJson.version, queue },
      { headers },
    );
  } catch (error) {
    console.error("Health check failed:", error);
    return Response.json({ status: "error", version: packageJson.version }, { status: 503, headers });
  }
}
