-- Appends one audit event to the hash chain in one statement: takes the chain's lock, reads its
-- head (a statement of its own, so it sees every append committed before the lock was granted),
-- and stores the event with its hash. The caller sends the event's canonical JSON with two
-- placeholders, for the position and the previous hash it cannot know; the hash covers the
-- canonical JSON with both filled in, exactly as `computeAuditHash` does.
CREATE FUNCTION loopstacks_append_audit_event(
  p_at timestamptz, p_action text, p_outcome text, p_actor jsonb, p_realm_id text, p_target_type text, p_target_id text, p_data jsonb,
  p_hash_input text, p_seq_placeholder text, p_prev_placeholder text
) RETURNS TABLE (event_id uuid, event_seq integer, event_prev_hash text, event_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  head_seq integer;
  head_hash text;
  next_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock(727270001);
  SELECT a.seq, a.hash INTO head_seq, head_hash FROM audit_events a ORDER BY a.seq DESC LIMIT 1;
  head_seq := coalesce(head_seq, 0) + 1;
  head_hash := coalesce(head_hash, repeat('0', 64));
  next_hash := encode(sha256(convert_to(
    replace(replace(p_hash_input, '"' || p_seq_placeholder || '"', head_seq::text), p_prev_placeholder, head_hash), 'UTF8')), 'hex');
  RETURN QUERY
    INSERT INTO audit_events AS e (seq, at, action, outcome, actor, realm_id, target_type, target_id, data, prev_hash, hash)
    VALUES (head_seq, p_at, p_action, p_outcome, p_actor, p_realm_id, p_target_type, p_target_id, p_data, head_hash, next_hash)
    RETURNING e.id, e.seq, e.prev_hash, e.hash;
END
$$;
