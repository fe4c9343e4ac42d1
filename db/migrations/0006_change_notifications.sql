-- Tells listeners that a table whose rows a process may keep in memory has changed: once per
-- statement, on channel loopstacks_changes, with the table's name as the payload. Delivered at
-- commit, so a listener never drops what it keeps before the change is visible. Only embedded
-- PGlite listens (db/change-feed.ts); on PostgreSQL the notifications go unheard, and these tables
-- change rarely (registrations, promotions, realm mappings).
CREATE FUNCTION loopstacks_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('loopstacks_changes', TG_TABLE_NAME);
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER realm_mappings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON realm_mappings
  FOR EACH STATEMENT EXECUTE FUNCTION loopstacks_notify_change();
--> statement-breakpoint
CREATE TRIGGER loops_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loops
  FOR EACH STATEMENT EXECUTE FUNCTION loopstacks_notify_change();--> statement-breakpoint
CREATE TRIGGER loop_revisions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loop_revisions
  FOR EACH STATEMENT EXECUTE FUNCTION loopstacks_notify_change();--> statement-breakpoint
CREATE TRIGGER prompt_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON prompt_versions
  FOR EACH STATEMENT EXECUTE FUNCTION loopstacks_notify_change();--> statement-breakpoint
CREATE TRIGGER prompt_rollouts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON prompt_rollouts
  FOR EACH STATEMENT EXECUTE FUNCTION loopstacks_notify_change();
