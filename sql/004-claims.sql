-- helpim schema, version 4: a room belongs to the people of its current
-- claims (helpim-sql(7)).  Forward-only, like every migration.
--
-- A claim's access dies with the claim: when a claim expires, the room gets
-- a new password, pending in new_password until the bot has set it on the
-- server (event rekeyed); the claims skip the room meanwhile, so the password
-- that the expired claim handed out opens nothing that is handed out again.
-- A claim expires only in a room that the running pipeline has seen (seen_at,
-- the time of the last snapshot applied): a chatter who came while the
-- pipeline was down is never taken for one who did not come.
-- Status times are on the database's clock, the clock of the claims.

ALTER TABLE helpim.rooms ADD COLUMN new_password text,
	ADD COLUMN seen_at timestamptz;

-- A room password: 244 random bits from the server's strong source.
CREATE FUNCTION helpim.random_password()
RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT replace(pg_catalog.gen_random_uuid()::text ||
	    pg_catalog.gen_random_uuid()::text, '-', '')
$$;

CREATE OR REPLACE FUNCTION helpim.apply_events(p_event text[], p_at timestamptz[],
    p_jid text[], p_chatters integer[], p_nick text[], p_detail text[])
RETURNS text[] LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	res	text[] := '{}';
	-- the rooms of the batch, one element per room
	r_jid	text[];
	r_id	bigint[];
	r_st	text[];
	r_n	integer[];
	r_sat	timestamptz[];
	r_evat	timestamptz[];
	r_sj	timestamptz[];
	r_cj	timestamptz[];
	r_cg	timestamptz[];
	r_cd	timestamptz[];
	r_sn	text[];
	r_cn	text[];
	r_ch	boolean[];
	r_seen	timestamptz[];
	r_np	boolean[];
	r_rk	boolean[];
	-- the history rows to insert
	e_jid	text[] := '{}';
	e_at	timestamptz[] := '{}';
	e_ev	text[] := '{}';
	e_nick	text[] := '{}';
	e_det	text[] := '{}';
	e_room	bigint[] := '{}';
	e_n	integer[] := '{}';
	e_old	text[] := '{}';
	e_new	text[] := '{}';
	e_bad	text[] := '{}';
	dups	integer[];
	k	integer;
	n	integer;
	ev	text;
	at	timestamptz;
	old	text;
	st	text;
	bad	text;
	e	record;
	nicks	text[];
	ts	timestamptz;
BEGIN
	SELECT array_agg(jid), array_agg(id), array_agg(status),
	    array_agg(chatters), array_agg(status_at), array_agg(event_at),
	    array_agg(staff_joined_at), array_agg(client_joined_at),
	    array_agg(closing_at), array_agg(closed_at), array_agg(staff_nick),
	    array_agg(client_nick), array_agg(false), array_agg(seen_at),
	    array_agg(new_password IS NOT NULL), array_agg(false)
	INTO r_jid, r_id, r_st, r_n, r_sat, r_evat, r_sj, r_cj, r_cg, r_cd,
	    r_sn, r_cn, r_ch, r_seen, r_np, r_rk
	FROM (SELECT * FROM helpim.rooms WHERE jid = ANY (p_jid)
	    ORDER BY jid FOR UPDATE) AS x;

	-- exact replays: of an event recorded before, or within the batch
	SELECT array_agg(u.i) INTO dups
	FROM (SELECT *, row_number() OVER (PARTITION BY jid, at, event, nick
	    ORDER BY i) AS nth
	    FROM unnest(p_jid, p_at, p_event, p_nick) WITH ORDINALITY
	    AS v(jid, at, event, nick, i)) AS u
	WHERE u.nth > 1 OR EXISTS (SELECT 1 FROM helpim.room_events AS x
	    WHERE x.jid = u.jid AND x.at = u.at AND x.event = u.event AND
	    (x.nick = u.nick OR x.nick IS NULL AND u.nick IS NULL));

	-- a loop over a query: subscripts of the parameters would cost O(i)
	FOR e IN SELECT u.i, u.ev, u.at, u.jid, u.n, u.nick, u.detail, r.k
	    FROM unnest(p_event, p_at, p_jid, p_chatters, p_nick, p_detail)
	    WITH ORDINALITY AS u(ev, at, jid, n, nick, detail, i)
	    LEFT JOIN unnest(r_jid) WITH ORDINALITY AS r(jid, k)
	    ON r.jid = u.jid
	    ORDER BY u.i LOOP
		ev := e.ev;
		at := e.at;
		n := e.n;
		k := e.k;
		IF dups IS NOT NULL AND e.i = ANY (dups) THEN
			res := res || 'duplicate'::text;
			CONTINUE;
		END IF;
		IF k IS NULL THEN
			e_jid := e_jid || e.jid;
			e_at := e_at || at;
			e_ev := e_ev || ev;
			e_nick := e_nick || e.nick;
			e_det := e_det || e.detail;
			e_room := e_room || NULL::bigint;
			e_n := e_n || n;
			e_old := e_old || NULL::text;
			e_new := e_new || NULL::text;
			e_bad := e_bad || 'unknown room'::text;
			res := res || 'anomaly'::text;
			CONTINUE;
		END IF;
		old := r_st[k];
		IF r_evat[k] IS NOT NULL AND (at < r_evat[k] AND
		    r_evat[k] <= now() AND ev = 'snapshot' OR at <= r_evat[k] AND
		    old IN ('closed', 'lost')) THEN
			res := res || 'stale'::text;
			CONTINUE;
		END IF;

		bad := NULL;
		IF old IN ('closed', 'lost') THEN
			bad := 'room is ' || old;
		ELSIF ev = 'destroyed' THEN
			st := 'closed';
			n := 0;
		ELSIF ev = 'gone' THEN
			-- Empty after a chatter had come, the chat had ended: the
			-- room was destroyed and that event lost with a stage.
			st := CASE WHEN r_n[k] = 0 AND old IN ('staff_waiting',
			    'client_claimed', 'chatting', 'closing')
			    THEN 'closed' ELSE 'lost' END;
			n := 0;
		ELSIF ev = 'rekeyed' THEN
			IF NOT r_np[k] THEN
				res := res || 'stale'::text;
				CONTINUE;
			END IF;
			st := old;
			r_np[k] := false;
			r_rk[k] := true;
		ELSIF ev = 'join' AND n < 1 THEN
			bad := 'join leaves no chatter';
		ELSIF ev IN ('snapshot', 'join', 'leave') THEN
			st := helpim.next_status(old, n);
			nicks := CASE WHEN ev = 'join' THEN ARRAY[e.nick]
			    WHEN ev = 'snapshot' THEN
			    string_to_array(e.detail, E'\n') END;
			-- A lone chatter who is not the staff member (who left):
			-- a client, who must not be taken for a waiting staff
			-- member and meet a second client.
			IF n = 1 AND old IN ('staff_waiting', 'client_claimed') AND
			    nicks[1] <> r_sn[k] THEN
				st := 'closing';
				r_cn[k] := coalesce(r_cn[k], nicks[1]);
			END IF;
		ELSIF ev IN ('nick', 'kick') THEN
			st := old;
		ELSE
			bad := 'unknown event';
		END IF;
		IF bad IS NOT NULL THEN
			e_jid := e_jid || e.jid;
			e_at := e_at || at;
			e_ev := e_ev || ev;
			e_nick := e_nick || e.nick;
			e_det := e_det || e.detail;
			e_room := e_room || r_id[k];
			e_n := e_n || n;
			e_old := e_old || old;
			e_new := e_new || old;
			e_bad := e_bad || bad;
			res := res || 'anomaly'::text;
			CONTINUE;
		END IF;
		-- the pipeline has seen the room: its claims may expire
		IF ev = 'snapshot' THEN
			r_seen[k] := clock_timestamp();
			r_ch[k] := true;
			IF st = old AND n = r_n[k] THEN
				res := res || st;
				CONTINUE;
			END IF;
		END IF;
		e_jid := e_jid || e.jid;
		e_at := e_at || at;
		e_ev := e_ev || ev;
		e_nick := e_nick || e.nick;
		e_det := e_det || e.detail;
		e_room := e_room || r_id[k];
		e_n := e_n || n;
		e_old := e_old || old;
		e_new := e_new || st;
		e_bad := e_bad || NULL::text;

		-- The first chatter is the staff member, the second the client.
		IF ev = 'join' THEN
			IF r_sn[k] IS NULL THEN
				r_sn[k] := e.nick;
			ELSIF r_cn[k] IS NULL AND n >= 2 AND
			    e.nick <> r_sn[k] THEN
				r_cn[k] := e.nick;
			END IF;
		ELSIF ev = 'snapshot' AND coalesce(e.detail, '') <> '' THEN
			-- of two or more, the staff member is unknown
			IF r_sn[k] IS NULL AND n = 1 THEN
				r_sn[k] := nicks[1];
			END IF;
			IF r_cn[k] IS NULL AND n >= 2 THEN
				r_cn[k] := (SELECT x FROM unnest(nicks) AS x
				    WHERE x <> r_sn[k] LIMIT 1);
			END IF;
		ELSIF ev = 'nick' THEN
			IF r_sn[k] = e.nick THEN
				r_sn[k] := e.detail;
			ELSIF r_cn[k] = e.nick THEN
				r_cn[k] := e.detail;
			END IF;
		END IF;

		-- status times on the database's clock, as the claims' are
		IF st <> old THEN
			ts := clock_timestamp();
			r_sat[k] := ts;
			IF st IN ('staff_waiting', 'chatting') THEN
				r_sj[k] := coalesce(r_sj[k], ts);
			END IF;
			IF st = 'chatting' THEN
				r_cj[k] := coalesce(r_cj[k], ts);
			ELSIF st = 'closing' THEN
				r_cg[k] := ts;
			ELSIF st = 'closed' THEN
				r_cd[k] := ts;
			END IF;
		END IF;
		r_st[k] := st;
		r_n[k] := n;
		r_evat[k] := greatest(r_evat[k], at);
		r_ch[k] := true;
		res := res || st;
	END LOOP;

	INSERT INTO helpim.room_events (room_id, jid, at, event, chatters, nick,
	    detail, old_status, new_status, anomaly)
	SELECT * FROM unnest(e_room, e_jid, e_at, e_ev, e_n, e_nick, e_det,
	    e_old, e_new, e_bad);

	UPDATE helpim.rooms AS r SET
		status = u.st,
		status_at = u.sat,
		chatters = u.n,
		event_at = u.evat,
		staff_joined_at = u.sj,
		client_joined_at = u.cj,
		closing_at = u.cg,
		closed_at = u.cd,
		staff_nick = u.sn,
		client_nick = u.cn,
		seen_at = u.seen,
		password = CASE WHEN u.rk THEN r.new_password ELSE r.password END,
		new_password = CASE WHEN u.rk THEN NULL ELSE r.new_password END
	FROM unnest(r_id, r_st, r_sat, r_n, r_evat, r_sj, r_cj, r_cg, r_cd,
	    r_sn, r_cn, r_ch, r_seen, r_rk) AS u(id, st, sat, n, evat, sj, cj,
	    cg, cd, sn, cn, ch, seen, rk)
	WHERE r.id = u.id AND u.ch;
	RETURN res;
END
$$;

CREATE OR REPLACE FUNCTION helpim.claim_staff_room(ref text)
RETURNS TABLE (jid text, password text) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	SELECT * INTO r FROM helpim.rooms
	WHERE status = 'available' AND close_requested_at IS NULL AND
	    new_password IS NULL
	ORDER BY created_at, id LIMIT 1
	FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	UPDATE helpim.rooms SET status = 'staff_claimed', status_at = now(),
	    staff_ref = ref, staff_claimed_at = now()
	WHERE id = r.id;
	INSERT INTO helpim.room_events (room_id, jid, at, event, chatters,
	    detail, old_status, new_status)
	VALUES (r.id, r.jid, now(), 'staff_claim', r.chatters, ref,
	    r.status, 'staff_claimed');
	jid := r.jid;
	password := r.password;
	RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION helpim.claim_client_room(ref text)
RETURNS TABLE (jid text, password text) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	r	helpim.rooms%ROWTYPE;
BEGIN
	SELECT * INTO r FROM helpim.rooms
	WHERE status = 'staff_waiting' AND chatters = 1 AND
	    client_nick IS NULL AND close_requested_at IS NULL AND
	    new_password IS NULL
	ORDER BY staff_joined_at, id LIMIT 1
	FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	UPDATE helpim.rooms SET status = 'client_claimed', status_at = now(),
	    client_ref = ref, client_claimed_at = now()
	WHERE id = r.id;
	INSERT INTO helpim.room_events (room_id, jid, at, event, chatters,
	    detail, old_status, new_status)
	VALUES (r.id, r.jid, now(), 'client_claim', r.chatters, ref,
	    r.status, 'client_claimed');
	jid := r.jid;
	password := r.password;
	RETURN NEXT;
END
$$;

-- Claims not followed by a join fall back, with a new password to be set by
-- the bot (NOTIFY rekey JID); rooms left in closing past the linger get a
-- close request.  A claim expires only in a room seen since the pipeline
-- started at since (NULL: seen at all).  inst NULL: every instance.
-- Returns the number of rooms changed.
DROP FUNCTION helpim.sweep(interval, interval, interval, text);
CREATE FUNCTION helpim.sweep(staff_claim interval, client_claim interval,
    linger interval, inst text DEFAULT NULL, since timestamptz DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	r	helpim.rooms%ROWTYPE;
	k	integer := 0;
BEGIN
	FOR r IN SELECT * FROM helpim.rooms AS x
	    WHERE x.status = 'staff_claimed' AND
	    x.staff_claimed_at < now() - staff_claim AND
	    x.seen_at >= coalesce(since, '-infinity') AND
	    (inst IS NULL OR x.instance = inst)
	    FOR UPDATE SKIP LOCKED LOOP
		UPDATE helpim.rooms SET status = 'available', status_at = now(),
		    staff_ref = NULL, staff_claimed_at = NULL,
		    new_password = helpim.random_password()
		WHERE id = r.id;
		INSERT INTO helpim.room_events (room_id, jid, at, event,
		    chatters, detail, old_status, new_status)
		VALUES (r.id, r.jid, now(), 'staff_claim_expired', r.chatters,
		    r.staff_ref, r.status, 'available')
		ON CONFLICT DO NOTHING;
		PERFORM pg_notify('helpim', 'rekey ' || r.jid);
		k := k + 1;
	END LOOP;
	FOR r IN SELECT * FROM helpim.rooms AS x
	    WHERE x.status = 'client_claimed' AND
	    x.client_claimed_at < now() - client_claim AND
	    x.chatters = 1 AND x.client_nick IS NULL AND
	    x.seen_at >= coalesce(since, '-infinity') AND
	    (inst IS NULL OR x.instance = inst)
	    FOR UPDATE SKIP LOCKED LOOP
		UPDATE helpim.rooms SET status = 'staff_waiting',
		    status_at = now(), client_ref = NULL,
		    client_claimed_at = NULL,
		    new_password = helpim.random_password()
		WHERE id = r.id;
		INSERT INTO helpim.room_events (room_id, jid, at, event,
		    chatters, detail, old_status, new_status)
		VALUES (r.id, r.jid, now(), 'client_claim_expired', r.chatters,
		    r.client_ref, r.status, 'staff_waiting')
		ON CONFLICT DO NOTHING;
		PERFORM pg_notify('helpim', 'rekey ' || r.jid);
		k := k + 1;
	END LOOP;
	FOR r IN SELECT * FROM helpim.rooms AS x
	    WHERE x.status = 'closing' AND x.status_at < now() - linger AND
	    x.close_requested_at IS NULL AND
	    (inst IS NULL OR x.instance = inst)
	    FOR UPDATE SKIP LOCKED LOOP
		PERFORM helpim.request_close(r.jid, 'linger');
		k := k + 1;
	END LOOP;
	RETURN k;
END
$$;

INSERT INTO helpim.schema_version (version) VALUES (4);
