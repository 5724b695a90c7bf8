//! PostgreSQL's side of [`Dialect`]: what production replicas share.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::identity;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow,
    PgTypeInfo,
};
use sqlx::{
    ConnectOptions as _, Connection as _, Postgres, Row as _, TypeInfo as _, ValueRef as _,
};

use super::Store;
use super::dialect::{Conn, Dialect, Statement, Value, Work, values_travel};
use super::driver::{Waiting, pool_figures};
use super::events::{event_columns, event_values};
use super::list::{Clause, contains_pattern};
use super::orders::UPDATE_ORDER;
#[cfg(any(test, feature = "test-util"))]
use super::orders::select_order;
#[cfg(test)]
use super::orders::update_order;
use super::pg_schema::{self, PgSchema};
use super::rows::order_columns;
#[cfg(feature = "test-util")]
use crate::ListQuery;
use ordo_domain::EventRecord;

use crate::{Claim, PaymentAttempt, PoolStats, RepoError, SearchText, TotalBound};

/// Connection settings for [`crate::PgStore::connect`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The most connections the pool opens. PostgreSQL on a small machine peaks at a handful of
    /// busy connections, so the default is small.
    pub max_connections: u32,
    /// How long a request waits for a free connection before storage counts as unavailable.
    pub acquire_timeout: Duration,
    /// The schema ordo's tables live in (`search_path` of every connection).
    pub schema: PgSchema,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            schema: PgSchema::default(),
        }
    }
}

/// PostgreSQL: a pool whose connections all read and write.
#[derive(Debug, Clone)]
pub struct PgDialect {
    pool: PgPool,
    /// Callers waiting for a connection, for metrics.
    waiting: Waiting,
    /// Where the tables are.
    schema: PgSchema,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The order's row, all of it in one statement.
const INSERT_ORDER: &str = concat!(
    "INSERT INTO orders (",
    order_columns!(),
    ")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)"
);

/// The idempotency key (`$32`..`$34`) linked to the order in the insert's own statement
/// ([`INSERT_ORDER_CLAIMED`] reads it): if the claim is no longer held, nothing is inserted.
const CLAIM: &str = "claim AS (
    UPDATE idempotency_keys SET order_id = $1
    WHERE caller = $32 AND key = $33 AND token = $34
      AND order_id IS NULL AND response_status IS NULL
    RETURNING 1
)";

/// The order's row, only if [`CLAIM`] took the key.
const INSERT_ORDER_CLAIMED: &str = concat!(
    "INSERT INTO orders (",
    order_columns!(),
    ")
SELECT $1::uuid, $2::text, $3::uuid, $4::char(3), $5::numeric, $6::numeric, $7::text,
       $8::numeric, $9::numeric, $10::numeric, $11::numeric, $12::smallint, $13::text,
       $14::text, $15::text, $16::text, $17::integer, $18::timestamptz, $19::timestamptz,
       $20::text, $21::numeric, $22::numeric, $23::numeric, $24::text, $25::text, $26::text,
       $27::text, $28::numeric, $29::text, $30::text, $31::jsonb
WHERE EXISTS (SELECT 1 FROM claim)"
);

/// The payment call that caused an update, audited (`$19`..`$25`) in the update's statement.
/// A data-modifying CTE always runs, so the audit row is written whether or not the update
/// matches.
const ATTEMPT: &str = "attempt AS (
    INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
    VALUES ($19, $20, $21, $22, $23, $24, $25)
)";

/// `UPDATE_ORDER` audited as one statement (what `bench/pgbench` runs, with its event).
#[cfg(test)]
const UPDATE_ORDER_AUDITED: &str = concat!(
    "
WITH attempt AS (
    INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
    VALUES ($19, $20, $21, $22, $23, $24, $25)
)",
    update_order!()
);

/// The feed's bound: the oldest transaction writing events right now (holding `order_events`
/// for writing, with an id), or the next transaction id when none is. Read in a statement of
/// its own *before* the events, so a transaction that commits between the two is either seen
/// as running (and bounds the read) or has committed before the events' snapshot is taken.
/// Every event statement is its transaction's first write (`Dialect::chained`), so a
/// transaction not writing events yet takes an id above any bound read before. Only event
/// writers count: a long transaction elsewhere never holds the feed back. `pg_locks` shows
/// 32-bit ids; each is widened to the 64-bit id `tx` holds by its signed distance from the
/// snapshot's `xmax` (one past the highest *completed* id: a running writer's id may be above
/// it, and must not be read as four billion below).
const FEED_BOUND: &str = "
SELECT COALESCE(
    (SELECT min(n.next + ((CAST(CAST(x.transactionid AS text) AS bigint) - n.next % 4294967296
                           + 2147483648 + 4294967296) % 4294967296) - 2147483648)
     FROM pg_locks r
     JOIN pg_locks x ON x.virtualtransaction = r.virtualtransaction
                    AND x.locktype = 'transactionid' AND x.mode = 'ExclusiveLock' AND x.granted
     WHERE r.locktype = 'relation' AND r.mode = 'RowExclusiveLock'
       AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND r.relation = CAST('order_events' AS regclass)),
    n.next) AS bound
FROM (SELECT CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint) AS next) n";

/// After `changed` (a change's CTE returning a row if it wrote one), the change's event
/// (`event_values`, from `$first`) chained in SQL to the order's last one: the same link as
/// `ordo_domain::link`, `sha256(previous hash || digest)`.
fn chain_event(first: usize) -> String {
    let p = |offset: usize| format!("${}", first.saturating_add(offset));
    format!(
        ",
prev AS (
    SELECT chain, hash FROM order_events WHERE order_id = {order}::uuid
    ORDER BY chain DESC LIMIT 1
)
INSERT INTO order_events ({columns})
SELECT {id}::uuid, {order}::uuid, {customer}::uuid, {kind}::text, {version}::integer,
       {role}::text, {subject}::text, {request}::text, {key}::text, {at}::timestamptz,
       {payload}::text, {payload_digest}::bytea, COALESCE(prev.chain, 0) + 1, prev.hash,
       sha256(COALESCE(prev.hash, ''::bytea) || {digest}::bytea)
FROM changed LEFT JOIN prev ON true",
        columns = event_columns!(),
        id = p(0),
        order = p(1),
        customer = p(2),
        kind = p(3),
        version = p(4),
        role = p(5),
        subject = p(6),
        request = p(7),
        key = p(8),
        at = p(9),
        payload = p(10),
        payload_digest = p(11),
        digest = p(12),
    )
}

/// `change` (one `INSERT` or `UPDATE` with `values` placeholders, after the CTEs in
/// `prelude`) and its event, as one statement; made once per change and kept.
fn chained_statement(
    prelude: Option<&'static str>,
    change: &'static str,
    values: usize,
) -> &'static str {
    type Made = HashMap<(usize, usize), &'static str>;
    static MADE: LazyLock<Mutex<Made>> = LazyLock::new(Mutex::default);
    let key = (
        prelude.map_or(0, |p| p.as_ptr().addr()),
        change.as_ptr().addr(),
    );
    let build = || -> &'static str {
        let prelude = prelude.map(|p| format!("{p},\n")).unwrap_or_default();
        let sql = format!(
            "WITH {prelude}changed AS ({change}\nRETURNING 1){}",
            chain_event(values.saturating_add(1))
        );
        // A handful of constant statements, each made once: leaked on purpose.
        Box::leak(sql.into_boxed_str())
    };
    match MADE.lock() {
        Ok(mut made) => made.entry(key).or_insert_with(build),
        Err(_) => build(),
    }
}

/// Runs `change` (its SQL constant) after `prelude` with the event chained in the same
/// statement: the rows it wrote.
async fn run_chained(
    conn: &mut PgConnection,
    prelude: Option<&'static str>,
    change: Statement,
    event: &EventRecord,
) -> Result<u64, RepoError> {
    let Cow::Borrowed(sql) = change.sql else {
        return Err(RepoError::other(
            "a chained change must be a constant statement",
        ));
    };
    let values = change.values.len();
    let statement = Statement::new(chained_statement(prelude, sql, values))
        .bind_all(change.values)
        .bind_all(event_values(event)?);
    conn.execute(statement).await
}

values_travel! {
    database: Postgres, arguments: PgArguments, connection: PgConnection, row: PgRow,
    encode: { small: identity, int: identity, money: identity, time: identity, json: Jsonb },
    decode: { int: read_int, money: read_plain, time: read_plain },
}

/// Any integer column: PostgreSQL's integers keep their width on the wire.
fn read_int(row: &PgRow, column: &str) -> Result<Option<i64>, RepoError> {
    let raw = row.try_get_raw(column)?;
    if raw.is_null() {
        return Ok(None);
    }
    let width = raw.type_info();
    Ok(Some(match width.name() {
        "INT2" => i64::from(row.try_get::<i16, _>(column)?),
        "INT4" => i64::from(row.try_get::<i32, _>(column)?),
        _ => row.try_get::<i64, _>(column)?,
    }))
}

/// Money (`NUMERIC`) and times (`TIMESTAMPTZ`) come back as they are.
fn read_plain<T>(row: &PgRow, column: &str) -> Result<Option<T>, RepoError>
where
    for<'r> T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    Ok(row.try_get(column)?)
}

/// A JSON document bound as `JSONB` (its text, after the format's version byte), so no
/// statement needs a cast for it.
#[derive(Debug)]
struct Jsonb(String);

impl sqlx::Type<Postgres> for Jsonb {
    fn type_info() -> PgTypeInfo {
        // `jsonb`'s fixed OID in every PostgreSQL.
        PgTypeInfo::with_oid(Oid(3802))
    }
}

impl sqlx::Encode<'_, Postgres> for Jsonb {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(sqlx::encode::IsNull::No)
    }
}

impl PgDialect {
    /// A connection from the pool; the wait for it is counted in [`PoolStats::waiting`].
    async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, RepoError> {
        let _waiting = self.waiting.enter();
        Ok(self.pool.acquire().await?)
    }
}

#[async_trait]
impl Dialect for PgDialect {
    type Row = PgRow;
    type Conn = PgConnection;

    const NEXT_BLOCK: &'static str = "SELECT nextval('order_number_seq') AS start";
    const MIGRATIONS_BOOKKEPT: &'static str =
        "SELECT CAST(to_regclass('_sqlx_migrations') IS NOT NULL AS INTEGER) AS bookkept";
    const MIGRATOR: &'static sqlx::migrate::Migrator = &MIGRATOR;
    const FEED_BOUND: Option<&'static str> = Some(FEED_BOUND);
    const CLAIM_DELIVERIES: &'static str =
        super::webhooks::claim_deliveries!(" FOR UPDATE SKIP LOCKED");

    fn matches_text(text: &SearchText) -> Clause {
        // `search_text` is the number, email and names lowercased by `lower()` (migration 10),
        // with a trigram index; patterns are folded by the same function.
        let whole = contains_pattern(text.as_str());
        match trigram_probe(text.as_str()) {
            // The index is asked for the probe alone; the whole text is checked on the rows it
            // finds, in a form the index cannot take but the planner still estimates (`IS TRUE`
            // of the `LIKE`), so a text no sampled order holds is not taken for a common word.
            Some(probe) => (
                "o.search_text LIKE lower($?) AND (o.search_text LIKE lower($?)) IS TRUE",
                vec![contains_pattern(probe).into(), whole.into()],
            ),
            None => ("o.search_text LIKE lower($?)", vec![whole.into()]),
        }
    }

    fn total_at_least(bound: TotalBound) -> Clause {
        ("o.total >= $?", vec![bound.get().into()])
    }

    fn total_at_most(bound: TotalBound) -> Clause {
        ("o.total <= $?", vec![bound.get().into()])
    }

    async fn read_all(&self, statement: Statement) -> Result<Vec<PgRow>, RepoError> {
        fetch_all(&mut *self.acquire().await?, statement).await
    }

    async fn write<T: Send + 'static, W: Work<PgConnection, T>>(
        &self,
        atomic: bool,
        work: W,
    ) -> Result<T, RepoError> {
        let mut conn = self.acquire().await?;
        if !atomic {
            return work(&mut conn).await;
        }
        // Dropped on an error (or a cancelled request), the transaction rolls back.
        let mut transaction = conn.begin().await?;
        let done = work(&mut transaction).await?;
        transaction.commit().await?;
        Ok(done)
    }

    async fn insert_order(
        conn: &mut PgConnection,
        order_values: Vec<Value>,
        claim: Option<Claim>,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        let (prelude, statement) = match claim {
            None => (None, Statement::new(INSERT_ORDER).bind_all(order_values)),
            Some(claim) => (
                Some(CLAIM),
                Statement::new(INSERT_ORDER_CLAIMED)
                    .bind_all(order_values)
                    .bind(claim.scope.caller)
                    .bind(claim.scope.key)
                    .bind(claim.token),
            ),
        };
        // No row means the claim was not held.
        if run_chained(conn, prelude, statement, event).await? == 0 {
            Err(RepoError::ClaimLost)
        } else {
            Ok(())
        }
    }

    async fn update_audited(
        conn: &mut PgConnection,
        update: Statement,
        attempt: &PaymentAttempt,
        event: &EventRecord,
    ) -> Result<u64, RepoError> {
        let audited = Statement::new(UPDATE_ORDER)
            .bind_all(update.values)
            .bind_all(super::rows::attempt_values(attempt));
        run_chained(conn, Some(ATTEMPT), audited, event).await
    }

    async fn chained(
        conn: &mut PgConnection,
        change: Statement,
        event: &EventRecord,
    ) -> Result<u64, RepoError> {
        run_chained(conn, None, change, event).await
    }

    async fn prepare_migrations(&self) -> Result<u64, RepoError> {
        let versions: Vec<i64> = MIGRATOR.iter().map(|migration| migration.version).collect();
        pg_schema::prepare(&mut *self.acquire().await?, &self.schema, &versions).await
    }

    async fn run_migrations(&self) -> Result<(), RepoError> {
        // sqlx serialises replicas migrating at once with an advisory lock.
        MIGRATOR.run(&self.pool).await.map_err(RepoError::other)
    }

    fn pool_stats(&self) -> PoolStats {
        pool_figures(&self.pool, &self.waiting)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

impl Store<PgDialect> {
    /// Connects a pool to `url` (`postgres://user@host:port/database`).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the server cannot be reached; [`RepoError::Other`] for a
    /// malformed URL.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self, RepoError> {
        let connect: PgConnectOptions = url.parse().map_err(RepoError::other)?;
        // Appended after any `options` in the URL, so the setting wins.
        let connect = connect
            .options([("search_path", options.schema.as_str())])
            .log_statements(tracing::log::LevelFilter::Debug);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // sqlx pings each connection as it leaves the pool by default: a second round trip
            // for every query. A connection that broke meanwhile fails its query instead, is
            // dropped, and the request answers 503; the next one gets a fresh connection.
            .test_before_acquire(false)
            .connect_with(connect)
            .await?;
        Ok(Self::new(PgDialect {
            pool,
            waiting: Waiting::default(),
            schema: options.schema.clone(),
        }))
    }

    /// `EXPLAIN ANALYZE` of the list query as [`crate::OrderRepository::list`] sends it (it
    /// runs, reading only), for plan checks.
    ///
    /// # Errors
    /// As [`crate::OrderRepository::list`].
    #[cfg(feature = "test-util")]
    pub async fn explain_list(&self, query: &ListQuery) -> Result<String, RepoError> {
        const EXPLAIN: &str = concat!("EXPLAIN (ANALYZE, BUFFERS) ", select_order!());
        self.read_all(super::list::list_statement::<PgDialect>(EXPLAIN, query))
            .await?
            .iter()
            .map(|row| {
                let line = super::dialect::RowRead::text(row, "QUERY PLAN")?;
                super::dialect::required(line, "QUERY PLAN")
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join("\n"))
    }
}

/// The part of a search text the trigram index is asked for alone, when there is a better one
/// than the whole text: the last [`PROBE_CHARS`] characters of its code when it is an order
/// number, else of its longest word (run of letters and digits) holding a digit, the later one
/// of two as long. `pg_trgm` reads each trigram's whole list of orders, so a common one ("ord",
/// "com", a date's, a common name's) costs as much as every order holding it, while a word with
/// digits (an email's) or a number's random code is where a search text is rarest. `None` when
/// there is no such word or the probe is the whole text: the text is asked for as it is. Any
/// part of the text is only a necessary condition, so the choice changes how fast a search is,
/// never what it finds, as long as the database lowercases the part as it lowercases it within
/// the text: only ASCII words followed by ASCII or nothing are cut from (a final sigma or a
/// Lithuanian dotted i lowercase by their neighbours).
fn trigram_probe(text: &str) -> Option<&str> {
    let chars = |word: &str| word.chars().count();
    let words = probe_words(text);
    let word = if ordo_domain::OrderNumber::parse(text).is_ok() {
        words.last().copied().unwrap_or("")
    } else {
        words
            .into_iter()
            .filter(|word| chars(word) >= 3 && word.chars().any(|c| c.is_ascii_digit()))
            .fold("", |best, word| {
                if chars(word) >= chars(best) {
                    word
                } else {
                    best
                }
            })
    };
    let cut = word.len().saturating_sub(PROBE_CHARS);
    let probe = word.get(cut..).unwrap_or(word);
    (probe.len() >= 3 && probe != text).then_some(probe)
}

/// The words of `text` a probe may be cut from: runs of ASCII letters and digits followed by an
/// ASCII character or the end (a run that holds or touches anything else is left out whole).
fn probe_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    let mut keep = |begun: usize, end: usize, next: Option<char>| {
        let word = text.get(begun..end).unwrap_or("");
        if word.is_ascii() && next.is_none_or(|c| c.is_ascii()) {
            words.push(word);
        }
    };
    for (at, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(at);
        } else if let Some(begun) = start.take() {
            keep(begun, at, Some(c));
        }
    }
    if let Some(begun) = start {
        keep(begun, text.len(), None);
    }
    words
}

/// How many characters of a search text the trigram index is asked for: six trigrams.
const PROBE_CHARS: usize = 8;

#[cfg(test)]
#[path = "bench_scripts.rs"]
mod bench_scripts;

#[cfg(test)]
mod probe_tests {
    use super::trigram_probe;
    use proptest::prelude::*;

    #[test]
    fn the_probe_is_the_end_of_the_longest_word_with_a_digit() {
        assert_eq!(
            trigram_probe("barbara.dijkstra4660@example.com"),
            Some("stra4660")
        );
        assert_eq!(
            trigram_probe("margaret.berners-lee49110@example.com"),
            Some("lee49110")
        );
        assert_eq!(trigram_probe("lovelace6392@"), Some("lace6392"));
        assert_eq!(trigram_probe("ord-260514-3v0mrp47 x"), Some("3v0mrp47"));
        // No word with a digit, or the probe would be the whole text: the text as it is.
        assert_eq!(trigram_probe("ada lovelace"), None);
        assert_eq!(trigram_probe("hopper"), None);
        assert_eq!(trigram_probe("3v0mrp47"), None);
        assert_eq!(trigram_probe("a1.b-cd"), None);
    }

    #[test]
    fn an_order_number_is_probed_by_its_code_even_without_a_digit() {
        use ordo_domain::{OrderNumber, OrderNumberKey};
        let date = chrono::NaiveDate::from_ymd_opt(2026, 9, 21).unwrap();
        // A number whose code has no digit (about one in twenty): its date is the only word
        // with digits, and every order of that day holds it.
        let number = (0..10_000)
            .map(|sequence| OrderNumber::from_sequence(sequence, date, OrderNumberKey::DEFAULT))
            .map(|number| number.unwrap().to_string())
            .find(|number| !number[11..].chars().any(|c| c.is_ascii_digit()))
            .unwrap();
        let code = &number[11..];
        assert_eq!(trigram_probe(&number), Some(code));
        let lower = number.to_lowercase();
        assert_eq!(trigram_probe(&lower), Some(&lower[11..]));
    }

    #[test]
    fn words_lowercased_by_their_neighbours_are_never_cut_from() {
        // Σ lowercases to ς at a word's end, σ elsewhere: its word is not a probe.
        assert_eq!(trigram_probe("ΑΣ1234567 x"), None);
        assert_eq!(trigram_probe("ΑΣ1234567"), None);
        // An ASCII word before a combining mark (a Lithuanian I with a dot above) neither; the
        // word after it may be (what precedes a letter or digit never changes its lowercase).
        assert_eq!(trigram_probe("ABCI5\u{307} x"), None);
        assert_eq!(trigram_probe("ABCI\u{307}1234 x"), Some("1234"));
        assert_eq!(trigram_probe("Zoë abc12345"), Some("abc12345"));
    }

    proptest! {
        /// The probe is part of the text, so every order holding the text holds the probe.
        #[test]
        fn the_probe_is_always_part_of_the_text(text in "\\PC{3,40}") {
            if let Some(probe) = trigram_probe(&text) {
                prop_assert!(text.contains(probe) && probe.len() < text.len());
            }
        }
    }
}
