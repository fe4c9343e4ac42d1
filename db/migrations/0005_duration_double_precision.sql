ALTER TABLE "frames" ALTER COLUMN "duration_ms" SET DATA TYPE double precision;--> statement-breakpoint
ALTER TABLE "tool_calls" ALTER COLUMN "duration_ms" SET DATA TYPE double precision;