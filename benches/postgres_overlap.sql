-- The no-overlap constraint of allocations, measured: the GiST exclusion on `cidr` with
-- `inet_ops` (schema 4) against the alternatives, each in its own table, filled one /28 (IPv4)
-- or one /64 (IPv6) at a time in address order, as the allocator fills a pool. At N = 1k,
-- 10k and 100k rows: the mean time of the next 1,000 single-row inserts (each with its
-- constraint check; a table without constraint is the floor), and the index pages one
-- overlap probe reads (EXPLAIN BUFFERS of the check's look-up for the next block).
--
-- Run on a throw-away server (it creates and drops the tables ov_*):
--   psql -X -q -f benches/postgres_overlap.sql
-- needs btree_gist (contrib).
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS btree_gist;
DROP TABLE IF EXISTS ov_none, ov_inet, ov_spgist, ov_numrange, ov_ranges, ov_ranges_high_first,
    ov6_inet, ov6_ranges;

-- the two halves of schema 5 (src/store/postgres/schema.rs, migration 5), as text to reuse
SELECT $$int8range(
    ('x' || encode(substring(CASE family(cidr) WHEN 4 THEN '\x000000000000000000000000'::bytea
        ELSE ''::bytea END || substring(inet_send(cidr) FROM 5) FROM %1$s FOR 8), 'hex'))
        ::bit(64)::bigint # (-9223372036854775808),
    NULLIF(('x' || encode(substring(CASE family(broadcast(cidr)) WHEN 4
        THEN '\x000000000000000000000000'::bytea ELSE ''::bytea END
        || substring(inet_send(broadcast(cidr)) FROM 5) FROM %1$s FOR 8), 'hex'))
        ::bit(64)::bigint # (-9223372036854775808), 9223372036854775807) + 1)$$ AS half \gset
SELECT format(:'half', 9) AS low, format(:'half', 1) AS high \gset

CREATE TABLE ov_none (pool_num bigint, cidr cidr);
CREATE TABLE ov_inet (pool_num bigint, cidr cidr,
    EXCLUDE USING gist (pool_num WITH =, cidr inet_ops WITH &&));
-- no pool column: SP-GiST indexes one column only (cannot be the constraint; for reference)
CREATE TABLE ov_spgist (pool_num bigint, cidr cidr, EXCLUDE USING spgist (cidr inet_ops WITH &&));
CREATE TABLE ov_numrange (pool_num bigint, cidr cidr,
    r numrange GENERATED ALWAYS AS (numrange((cidr - '0.0.0.0'::inet)::numeric,
        (broadcast(cidr) - '0.0.0.0'::inet)::numeric, '[]')) STORED,  -- IPv4 only here
    EXCLUDE USING gist (pool_num WITH =, r WITH &&));
CREATE TABLE ov_ranges (pool_num bigint, cidr cidr,
    addr_low int8range GENERATED ALWAYS AS (:low) STORED,
    addr_high int8range GENERATED ALWAYS AS (:high) STORED,
    EXCLUDE USING gist (pool_num WITH =, addr_low WITH &&, addr_high WITH &&));
CREATE TABLE ov_ranges_high_first (pool_num bigint, cidr cidr,
    addr_low int8range GENERATED ALWAYS AS (:low) STORED,
    addr_high int8range GENERATED ALWAYS AS (:high) STORED,
    EXCLUDE USING gist (pool_num WITH =, addr_high WITH &&, addr_low WITH &&));
CREATE TABLE ov6_inet (LIKE ov_inet);
ALTER TABLE ov6_inet ADD EXCLUDE USING gist (pool_num WITH =, cidr inet_ops WITH &&);
CREATE TABLE ov6_ranges (pool_num bigint, cidr cidr,
    addr_low int8range GENERATED ALWAYS AS (:low) STORED,
    addr_high int8range GENERATED ALWAYS AS (:high) STORED,
    EXCLUDE USING gist (pool_num WITH =, addr_low WITH &&, addr_high WITH &&));

-- block i: the i-th /28 of 10.0.0.0/8, or the i-th /64 of 2001:db8::/32
CREATE FUNCTION pg_temp.block(v6 boolean, i int) RETURNS cidr LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v6 THEN format('2001:db8:%s:%s::/64', to_hex(i >> 16), to_hex(i & 65535))::cidr
        ELSE set_masklen('10.0.0.0'::inet + i::bigint * 16, 28)::cidr END $$;
-- inserts blocks lo..hi-1 into t: µs per insert
CREATE FUNCTION pg_temp.fill(t text, lo int, hi int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE started timestamptz := clock_timestamp();
BEGIN
    FOR i IN lo..hi - 1 LOOP
        EXECUTE format('INSERT INTO %I (pool_num, cidr) VALUES (1, $1)', t)
            USING pg_temp.block(t LIKE 'ov6%', i);
    END LOOP;
    RETURN round(extract(epoch FROM clock_timestamp() - started) * 1e6 / (hi - lo));
END $$;
-- index pages read by the overlap look-up of block i in t
CREATE FUNCTION pg_temp.probe(t text, i int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    c cidr := pg_temp.block(t LIKE 'ov6%', i);
    cond text;
    plan json;
BEGIN
    cond := CASE
        WHEN t IN ('ov_inet', 'ov_spgist', 'ov6_inet') THEN format('cidr && %L::cidr', c)
        WHEN t = 'ov_numrange' THEN format('r && numrange((%1$L::cidr - ''0.0.0.0''::inet)::numeric, '
            '(broadcast(%1$L::cidr) - ''0.0.0.0''::inet)::numeric, ''[]'')', c)
        ELSE format('addr_low && (SELECT %s FROM (SELECT %L::cidr AS cidr) x) '
            'AND addr_high && (SELECT %s FROM (SELECT %L::cidr AS cidr) x)',
            current_setting('ov.low'), c, current_setting('ov.high'), c) END;
    SET LOCAL enable_seqscan = off;
    EXECUTE format('EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1 FROM %I '
        'WHERE pool_num = 1::bigint AND %s', t, cond) INTO plan;
    -- the index scan node (its pages: the index, and the heap only to check visibility)
    RETURN (SELECT max((n ->> 'Shared Hit Blocks')::int + (n ->> 'Shared Read Blocks')::int)
        FROM jsonb_path_query(plan::jsonb, 'strict $.**') n
        WHERE jsonb_typeof(n) = 'object' AND n ? 'Index Name');
END $$;
SELECT set_config('ov.low', :'low', false), set_config('ov.high', :'high', false) \g /dev/null

CREATE TEMP TABLE results (id serial, variant text, n int, insert_us numeric, probe_pages int);
DO $$
DECLARE
    t text;
    n int;
    done int;
BEGIN
    FOREACH t IN ARRAY ARRAY['ov_none', 'ov_inet', 'ov_spgist', 'ov_numrange', 'ov_ranges',
        'ov_ranges_high_first', 'ov6_inet', 'ov6_ranges'] LOOP
        done := 0;
        FOREACH n IN ARRAY ARRAY[1000, 10000, 100000] LOOP
            PERFORM pg_temp.fill(t, done, n);
            INSERT INTO results (variant, n, insert_us, probe_pages) VALUES (t, n, pg_temp.fill(t, n, n + 1000),
                CASE WHEN t = 'ov_none' THEN NULL ELSE pg_temp.probe(t, n + 1000) END);
            done := n + 1000;
        END LOOP;
    END LOOP;
END $$;
SELECT variant,
    max(insert_us) FILTER (WHERE n = 1000) AS "insert µs @1k",
    max(insert_us) FILTER (WHERE n = 10000) AS "@10k",
    max(insert_us) FILTER (WHERE n = 100000) AS "@100k",
    max(probe_pages) FILTER (WHERE n = 1000) AS "probe pages @1k",
    max(probe_pages) FILTER (WHERE n = 10000) AS "@10k",
    max(probe_pages) FILTER (WHERE n = 100000) AS "@100k",
    pg_size_pretty(pg_indexes_size(variant::regclass)) AS "indexes @101k"
FROM results GROUP BY variant ORDER BY min(id);
DROP TABLE ov_none, ov_inet, ov_spgist, ov_numrange, ov_ranges, ov_ranges_high_first,
    ov6_inet, ov6_ranges;
