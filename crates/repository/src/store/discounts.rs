//! [`DiscountCodeStore`] on both databases, each statement written once. A code is a row: its
//! name, status, limits and use count are columns (the limits are checked in SQL), the rest one
//! document (value, minimums, window).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::{
    CodeName, CodeValue, CodeValueDraft, DiscountCode, DiscountCodeDraft, DiscountCodeSpec,
    EventRecord, Order, Version, amount_serde,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Store;
use super::dialect::{self, Dialect, RowRead, Statement, Value, required};
use super::rows::{corrupt, missed_write, order_values, version_column};
use crate::{Claim, CodePage, CodeWrite, DiscountCodeStore, PageSize, Redemption, RepoError};

/// The columns a code is read from.
macro_rules! code_columns {
    () => {
        "id, code, status, used, usage_limit, per_customer_limit, version, created_at, \
         updated_at, CAST(document AS TEXT) AS document"
    };
}

const CODE_BY_ID: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM discount_codes WHERE id = $1"
);
const CODE_BY_NAME: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM discount_codes WHERE code = $1"
);
const CODES: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM discount_codes ORDER BY code LIMIT $1"
);
const CODES_AFTER: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM discount_codes WHERE code > $1 ORDER BY code LIMIT $2"
);

const INSERT_CODE: &str = "INSERT INTO discount_codes
    (id, code, status, usage_limit, per_customer_limit, version, created_at, updated_at, document)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The use count is never written here: only orders move it. A usage limit below the uses
/// held now is not written either (`CODE_STATE` then says why).
const UPDATE_CODE: &str = "UPDATE discount_codes
SET code = $2, status = $3, usage_limit = $4, per_customer_limit = $5, version = $6,
    updated_at = $8, document = $9
WHERE id = $1 AND version = $10 AND (CAST($4 AS INTEGER) IS NULL OR used <= $4)";

const CODE_STATE: &str = "SELECT version, used FROM discount_codes WHERE id = $1";

/// Takes one use, if the code is active and its limit allows; answers the per-customer limit
/// as it stands now. On PostgreSQL the row's lock makes every other order taking a use of this
/// code wait for this transaction, so the count after it (a statement of its own, with a
/// snapshot taken after the wait) is exact. It comes last, after the order is stored, so the
/// lock is held for as few statements as possible.
const TAKE_USE: &str = "UPDATE discount_codes SET used = used + 1
WHERE id = $1 AND status = 'active' AND (usage_limit IS NULL OR used < usage_limit)
RETURNING per_customer_limit";

const CUSTOMER_USES: &str =
    "SELECT count(*) AS uses FROM discount_redemptions WHERE code_id = $1 AND customer_id = $2";

const INSERT_REDEMPTION: &str =
    "INSERT INTO discount_redemptions (order_id, code_id, customer_id, created_at)
VALUES ($1, $2, $3, $4)";

/// A code's document: what no statement reads.
#[derive(Debug, Serialize, Deserialize)]
struct CodeDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percent: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amounts: Option<BTreeMap<String, Amount>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    minimum_subtotal: BTreeMap<String, Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ends_at: Option<DateTime<Utc>>,
}

/// An amount as a string.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
struct Amount(#[serde(with = "amount_serde")] Decimal);

fn amounts(map: &BTreeMap<String, Decimal>) -> BTreeMap<String, Amount> {
    map.iter()
        .map(|(code, value)| (code.clone(), Amount(*value)))
        .collect()
}

fn decimals(map: BTreeMap<String, Amount>) -> BTreeMap<String, Decimal> {
    map.into_iter()
        .map(|(code, Amount(value))| (code, value))
        .collect()
}

/// A limit as its `INTEGER` column.
fn limit_column(limit: Option<u32>) -> Result<Option<i32>, RepoError> {
    limit
        .map(i32::try_from)
        .transpose()
        .map_err(RepoError::other)
}

/// The values an insert binds, in `INSERT_CODE`'s order; an update binds the same.
fn code_values(code: &DiscountCode) -> Result<Vec<Value>, RepoError> {
    let spec = code.spec();
    let (percent, fixed) = match spec.value() {
        CodeValue::Percentage(percent) => (Some(Amount(*percent)), None),
        CodeValue::Fixed(by_currency) => (None, Some(amounts(by_currency))),
    };
    let document = CodeDocument {
        percent,
        amounts: fixed,
        minimum_subtotal: amounts(spec.minimum_subtotal()),
        starts_at: spec.starts_at(),
        ends_at: spec.ends_at(),
    };
    let status: &'static str = spec.status().into();
    Ok(vec![
        code.id().into(),
        spec.code().as_str().into(),
        status.into(),
        limit_column(spec.usage_limit())?.into(),
        limit_column(spec.per_customer_limit())?.into(),
        version_column(code.version())?.into(),
        code.created_at().into(),
        code.updated_at().into(),
        Value::Json(Some(
            serde_json::to_string(&document).map_err(RepoError::other)?,
        )),
    ])
}

/// A code from its row, every rule checked again.
fn code_row(row: &impl RowRead) -> Result<DiscountCode, RepoError> {
    let text = |column: &str| required(row.text(column)?, column);
    let count = |column: &str| -> Result<Option<i64>, RepoError> { row.int(column) };
    let document: CodeDocument =
        serde_json::from_str(&text("document")?).map_err(|_| corrupt("discount code document"))?;
    let value = match (document.percent, document.amounts) {
        (Some(Amount(percent)), None) => CodeValueDraft::Percentage(percent),
        (None, Some(by_currency)) => CodeValueDraft::Fixed(decimals(by_currency)),
        _ => return Err(corrupt("discount code value")),
    };
    let draft = DiscountCodeDraft {
        code: text("code")?,
        value,
        minimum_subtotal: decimals(document.minimum_subtotal),
        starts_at: document.starts_at,
        ends_at: document.ends_at,
        usage_limit: count("usage_limit")?,
        per_customer_limit: count("per_customer_limit")?,
        status: text("status")?
            .parse()
            .map_err(|_| corrupt("discount code status"))?,
    };
    let spec = DiscountCodeSpec::parse(&draft).map_err(|_| corrupt("discount code"))?;
    let small = |column: &str| -> Result<u32, RepoError> {
        u32::try_from(required(row.int(column)?, column)?).map_err(|_| corrupt(column))
    };
    Ok(DiscountCode::restore(
        required(row.uuid("id")?, "id")?,
        spec,
        small("used")?,
        Version::new(small("version")?),
        required(row.time("created_at")?, "created_at")?,
        required(row.time("updated_at")?, "updated_at")?,
    ))
}

#[async_trait]
impl<D: Dialect> DiscountCodeStore for Store<D> {
    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn write_code(&self, write: &CodeWrite) -> Result<(), RepoError> {
        match write {
            CodeWrite::Insert(code) => self
                .execute(Statement::new(INSERT_CODE).bind_all(code_values(code)?))
                .await
                .map(drop),
            CodeWrite::Update { code, expected } => {
                if code.version() <= *expected {
                    return Err(RepoError::other("a code update must move its version up"));
                }
                let update = Statement::new(UPDATE_CODE)
                    .bind_all(code_values(code)?)
                    .bind(version_column(*expected)?);
                if self.execute(update).await? == 1 {
                    return Ok(());
                }
                let state = self
                    .read_optional(Statement::new(CODE_STATE).bind(code.id()))
                    .await?
                    .map(|row| {
                        Ok::<_, RepoError>((
                            required(row.int("version")?, "version")?,
                            required(row.int("used")?, "used")?,
                        ))
                    })
                    .transpose()?;
                match (state, code.spec().usage_limit()) {
                    // At the version named: the limit asked for is below the uses held.
                    (Some((version, used)), Some(limit))
                        if version == i64::from(expected.get()) && used > i64::from(limit) =>
                    {
                        Err(RepoError::LimitBelowUses {
                            used: u32::try_from(used).unwrap_or(u32::MAX),
                        })
                    }
                    (state, _) => Err(missed_write(state.map(|(version, _)| version))),
                }
            }
        }
    }

    #[tracing::instrument(skip_all, fields(%id), err(level = "debug"))]
    async fn discount_code(&self, id: Uuid) -> Result<DiscountCode, RepoError> {
        self.read_optional(Statement::new(CODE_BY_ID).bind(id))
            .await?
            .as_ref()
            .map_or(Err(RepoError::NotFound), code_row)
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn code_named(&self, code: &CodeName) -> Result<Option<DiscountCode>, RepoError> {
        self.read_optional(Statement::new(CODE_BY_NAME).bind(code.as_str()))
            .await?
            .as_ref()
            .map(code_row)
            .transpose()
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn discount_codes<'a>(
        &self,
        after: Option<&'a CodeName>,
        limit: PageSize,
    ) -> Result<CodePage, RepoError> {
        // One more than asked: whether it comes back says whether a next page exists.
        let wanted = i64::from(limit.get()).saturating_add(1);
        let statement = match after {
            None => Statement::new(CODES).bind(wanted),
            Some(after) => Statement::new(CODES_AFTER)
                .bind(after.as_str())
                .bind(wanted),
        };
        let mut codes = self
            .read_all(statement)
            .await?
            .iter()
            .map(code_row)
            .collect::<Result<Vec<_>, _>>()?;
        let size = usize::try_from(limit.get()).unwrap_or(usize::MAX);
        let more = codes.len() > size;
        codes.truncate(size);
        let next = more
            .then(|| codes.last().map(|code| code.spec().code().clone()))
            .flatten();
        Ok(CodePage { codes, next })
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id()), err(level = "debug"))]
    async fn insert_redeeming<'a>(
        &self,
        order: &Order,
        claim: Option<&'a Claim>,
        redemption: Redemption,
        event: &EventRecord,
    ) -> Result<(), RepoError> {
        let values = order_values(order)?;
        let claim = claim.cloned();
        let event = event.clone();
        let (order_id, customer, at) = (
            order.id().as_uuid(),
            order.customer_id().as_uuid(),
            order.created_at(),
        );
        let code = redemption.code_id;
        self.dialect
            .write(true, move |conn| {
                Box::pin(async move {
                    D::insert_order(conn, values, claim, &event).await?;
                    let take = Statement::new(TAKE_USE).bind(code);
                    let Some(taken) = dialect::Conn::fetch_optional(conn, take).await? else {
                        return Err(RepoError::LimitReached {
                            per_customer: false,
                        });
                    };
                    if let Some(limit) = taken.int("per_customer_limit")? {
                        let held = Statement::new(CUSTOMER_USES).bind(code).bind(customer);
                        let uses = dialect::Conn::fetch_optional(conn, held)
                            .await?
                            .map(|row| required(row.int("uses")?, "uses"))
                            .transpose()?
                            .unwrap_or(0);
                        if uses >= limit {
                            return Err(RepoError::LimitReached { per_customer: true });
                        }
                    }
                    let redeemed = Statement::new(INSERT_REDEMPTION)
                        .bind(order_id)
                        .bind(code)
                        .bind(customer)
                        .bind(at);
                    dialect::Conn::execute(conn, redeemed).await.map(drop)
                })
            })
            .await
    }
}
