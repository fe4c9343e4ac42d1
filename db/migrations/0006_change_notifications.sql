-- Tells listeners that a table whose rows a process may keep in memory has changed: once per
-- statement, on channel loopstacks_changes, with the table's name as the payload. Delivered at
-- commit, so a listener never drops what it keeps before the change is visible.
CREATE FUNCTION loopstacks_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('loopstacks_changes', TG_TABLE_NAME);
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER realm_mappings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON realm_mappings
  FOR EACH STATEMENT EXECUTE FUNCTION loopstacks_notify_change();
