ALTER TABLE "frames" ADD COLUMN "open_tool_calls" integer;--> statement-breakpoint
-- Room on each page for the new versions of rows updated in place: a frame is updated several
-- times in its life (admitted, its turns saved, answered, ended) and a tool call once, and an
-- update that fits on its page touches no index.
ALTER TABLE "frames" SET (fillfactor = 70);--> statement-breakpoint
ALTER TABLE "tool_calls" SET (fillfactor = 70);
