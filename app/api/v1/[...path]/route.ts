import { noSuchRoute } from "@/lib/server/http";

/**
 * Any path under /api/v1 that no route takes gets a JSON 404, not Next's HTML page. Next tries
 * static and dynamic segments first (runs/[id] wins over this), so only unknown paths reach it.
 * It answers before the token is read: a path that does not exist reveals nothing.
 */
export const GET = noSuchRoute;
export const HEAD = noSuchRoute;
export const POST = noSuchRoute;
export const PUT = noSuchRoute;
export const PATCH = noSuchRoute;
export const DELETE = noSuchRoute;
export const OPTIONS = noSuchRoute;
