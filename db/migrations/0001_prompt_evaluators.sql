CREATE TABLE "loop_evaluators" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"loop_id" text NOT NULL,
	"evaluator_loop_id" text NOT NULL,
	"sample_rate" real NOT NULL,
	"score_name" text DEFAULT 'quality' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "loop_evaluators_sample_rate" CHECK ("loop_evaluators"."sample_rate" >= 0 and "loop_evaluators"."sample_rate" <= 1)
);
--> statement-breakpoint
ALTER TABLE "loop_evaluators" ADD CONSTRAINT "loop_evaluators_loop_id_loops_id_fk" FOREIGN KEY ("loop_id") REFERENCES "public"."loops"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loop_evaluators" ADD CONSTRAINT "loop_evaluators_evaluator_loop_id_loops_id_fk" FOREIGN KEY ("evaluator_loop_id") REFERENCES "public"."loops"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "loop_evaluators_pair" ON "loop_evaluators" USING btree ("loop_id","evaluator_loop_id");--> statement-breakpoint
CREATE INDEX "loop_evaluators_evaluator" ON "loop_evaluators" USING btree ("evaluator_loop_id");