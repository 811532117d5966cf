//! The PostgreSQL store's schema, as migrations embedded in the binary.

/// Schema migrations, applied in order; version = index + 1. Append only.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE storypack_handoffs (
    story_id    text        NOT NULL,
    n           bigint      NOT NULL CHECK (n > 0),
    id          text        NOT NULL UNIQUE,
    received_at text        NOT NULL,
    hash        text        NOT NULL,
    body        text        NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (story_id, n)
);
CREATE TABLE storypack_claims (
    story_id  text        NOT NULL,
    n         bigint      NOT NULL CHECK (n > 0),
    body      text        NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (story_id, n)
);
CREATE FUNCTION storypack_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'storypack records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER storypack_handoffs_append_only BEFORE UPDATE OR DELETE ON storypack_handoffs
    FOR EACH ROW EXECUTE FUNCTION storypack_append_only();
CREATE TRIGGER storypack_handoffs_no_truncate BEFORE TRUNCATE ON storypack_handoffs
    FOR EACH STATEMENT EXECUTE FUNCTION storypack_append_only();
CREATE TRIGGER storypack_claims_append_only BEFORE UPDATE OR DELETE ON storypack_claims
    FOR EACH ROW EXECUTE FUNCTION storypack_append_only();
CREATE TRIGGER storypack_claims_no_truncate BEFORE TRUNCATE ON storypack_claims
    FOR EACH STATEMENT EXECUTE FUNCTION storypack_append_only();
"#,
    // 2: entries keep the writer tag a file store filed them under, so that the records of
    // two merged branches (one number, two writers) can be copied in. The database's own
    // entries have none (''). Adding a column with a constant default rewrites no row and
    // fires no trigger.
    r#"
ALTER TABLE storypack_handoffs ADD COLUMN writer text NOT NULL DEFAULT '';
ALTER TABLE storypack_handoffs DROP CONSTRAINT storypack_handoffs_pkey;
ALTER TABLE storypack_handoffs ADD PRIMARY KEY (story_id, n, writer);
ALTER TABLE storypack_claims ADD COLUMN writer text NOT NULL DEFAULT '';
ALTER TABLE storypack_claims DROP CONSTRAINT storypack_claims_pkey;
ALTER TABLE storypack_claims ADD PRIMARY KEY (story_id, n, writer);
"#,
];
