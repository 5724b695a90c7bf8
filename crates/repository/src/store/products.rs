//! [`ProductStore`] on both databases, each statement written once. A product is a row: what
//! lists filter and sort on are columns (SKU, status, tax class), the rest one document
//! (title, options, whether it ships, prices as strings).

use std::collections::BTreeMap;

use async_trait::async_trait;
use ordo_domain::{Product, ProductDraft, ProductId, ProductSpec, Sku, Version, amount_serde};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Store;
use super::dialect::{self, Dialect, RowRead, Statement, Value, required};
use super::rows::{corrupt, missed_write, version_column};
use crate::{ProductPage, ProductQuery, ProductStore, ProductWrite, RepoError};

/// The columns a product is read from.
macro_rules! product_columns {
    () => {
        "id, sku, status, tax_class, version, created_at, updated_at, \
         CAST(document AS TEXT) AS document"
    };
}

const PRODUCT: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE id = $1"
);

const INSERT_PRODUCT: &str = "INSERT INTO products
    (id, sku, status, tax_class, version, created_at, updated_at, document)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const UPDATE_PRODUCT: &str = "UPDATE products
SET sku = $2, status = $3, tax_class = $4, version = $5, updated_at = $7, document = $8
WHERE id = $1 AND version = $9";

const PRODUCT_VERSION: &str = "SELECT version FROM products WHERE id = $1";

/// The most SKUs one lookup names (an order has at most 100 lines).
const MAX_SKUS: usize = ordo_domain::MAX_LINE_ITEMS;

/// A product's document: what no statement filters on.
#[derive(Debug, Serialize, Deserialize)]
struct ProductDocument {
    title: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    options: BTreeMap<String, String>,
    requires_shipping: bool,
    prices: BTreeMap<String, StoredPrice>,
}

/// A price as a string, so no JSON reader ever makes it a float.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct StoredPrice(#[serde(with = "amount_serde")] Decimal);

/// The values an insert binds, in `INSERT_PRODUCT`'s order; an update binds the same.
fn product_values(product: &Product) -> Result<Vec<Value>, RepoError> {
    let spec = product.spec();
    let document = ProductDocument {
        title: spec.title().as_str().to_owned(),
        options: spec
            .options()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        requires_shipping: spec.requires_shipping(),
        prices: spec
            .prices()
            .iter()
            .map(|(code, price)| (code.clone(), StoredPrice(*price)))
            .collect(),
    };
    let status: &'static str = spec.status().into();
    Ok(vec![
        product.id().as_uuid().into(),
        spec.sku().as_str().into(),
        status.into(),
        spec.tax_class().as_str().into(),
        version_column(product.version())?.into(),
        product.created_at().into(),
        product.updated_at().into(),
        Value::Json(Some(
            serde_json::to_string(&document).map_err(RepoError::other)?,
        )),
    ])
}

/// A product from its row, every rule checked again.
fn product_row(row: &impl RowRead) -> Result<Product, RepoError> {
    let text = |column: &str| required(row.text(column)?, column);
    let document: ProductDocument =
        serde_json::from_str(&text("document")?).map_err(|_| corrupt("product document"))?;
    let draft = ProductDraft {
        sku: text("sku")?,
        title: document.title,
        options: document.options,
        requires_shipping: document.requires_shipping,
        tax_class: Some(text("tax_class")?),
        status: text("status")?
            .parse()
            .map_err(|_| corrupt("product status"))?,
        prices: document
            .prices
            .into_iter()
            .map(|(code, StoredPrice(price))| (code, price))
            .collect(),
    };
    let spec = ProductSpec::parse(&draft).map_err(|_| corrupt("product"))?;
    let version = u32::try_from(required(row.int("version")?, "version")?)
        .map_err(|_| corrupt("product version"))?;
    Ok(Product::restore(
        ProductId::from_uuid(required(row.uuid("id")?, "id")?)
            .map_err(|_| corrupt("product id"))?,
        spec,
        Version::new(version),
        required(row.time("created_at")?, "created_at")?,
        required(row.time("updated_at")?, "updated_at")?,
    ))
}

/// `$1, $2, …` for `count` values.
fn placeholders(count: usize) -> String {
    (1..=count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl<D: Dialect> ProductStore for Store<D> {
    #[tracing::instrument(skip_all, fields(product_id = %id), err(level = "debug"))]
    async fn product(&self, id: ProductId) -> Result<Product, RepoError> {
        self.read_optional(Statement::new(PRODUCT).bind(id.as_uuid()))
            .await?
            .as_ref()
            .map_or(Err(RepoError::NotFound), product_row)
    }

    #[tracing::instrument(skip_all, fields(skus = skus.len()), err(level = "debug"))]
    async fn products_by_sku(&self, skus: &[Sku]) -> Result<Vec<Product>, RepoError> {
        let mut found = Vec::with_capacity(skus.len());
        for chunk in skus.chunks(MAX_SKUS) {
            let sql = format!(
                concat!(
                    "SELECT ",
                    product_columns!(),
                    " FROM products WHERE sku IN ({})"
                ),
                placeholders(chunk.len())
            );
            let statement =
                Statement::owned(sql).bind_all(chunk.iter().map(|sku| Value::from(sku.as_str())));
            for row in self.read_all(statement).await? {
                found.push(product_row(&row)?);
            }
        }
        Ok(found)
    }

    #[tracing::instrument(skip_all, err(level = "debug"))]
    async fn products(&self, query: &ProductQuery) -> Result<ProductPage, RepoError> {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        if let Some(status) = query.status {
            let status: &'static str = status.into();
            values.push(Value::from(status));
            conditions.push(format!("status = ${}", values.len()));
        }
        if let Some(class) = &query.tax_class {
            values.push(Value::from(class.as_str()));
            conditions.push(format!("tax_class = ${}", values.len()));
        }
        if let Some(after) = &query.after {
            values.push(Value::from(after.as_str()));
            conditions.push(format!("sku > ${}", values.len()));
        }
        let limit = query.limit.get();
        // One more than asked: whether it comes back says whether a next page exists.
        values.push(Value::from(i64::from(limit).saturating_add(1)));
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            concat!(
                "SELECT ",
                product_columns!(),
                " FROM products{} ORDER BY sku LIMIT ${}"
            ),
            filter,
            values.len()
        );
        let mut products = self
            .read_all(Statement::owned(sql).bind_all(values))
            .await?
            .iter()
            .map(product_row)
            .collect::<Result<Vec<_>, _>>()?;
        let more = products.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        products.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = more
            .then(|| products.last().map(|p| p.spec().sku().clone()))
            .flatten();
        Ok(ProductPage { products, next })
    }

    #[tracing::instrument(skip_all, fields(writes = writes.len()), err(level = "debug"))]
    async fn write_products(&self, writes: &[ProductWrite]) -> Result<(), RepoError> {
        // Nothing to write takes no write lock (SQLite's writer is one for everything).
        if writes.is_empty() {
            return Ok(());
        }
        let statements = writes
            .iter()
            .map(|write| match write {
                ProductWrite::Insert(product) => Ok((
                    None,
                    Statement::new(INSERT_PRODUCT).bind_all(product_values(product)?),
                )),
                ProductWrite::Update { product, expected } => {
                    if product.version() <= *expected {
                        return Err(RepoError::other(
                            "a product update must move its version up",
                        ));
                    }
                    let update = Statement::new(UPDATE_PRODUCT)
                        .bind_all(product_values(product)?)
                        .bind(version_column(*expected)?);
                    Ok((Some(product.id()), update))
                }
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        self.dialect
            .write(true, move |conn| {
                Box::pin(async move {
                    for (updated, statement) in statements {
                        if dialect::Conn::execute(conn, statement).await? == 1 {
                            continue;
                        }
                        let Some(id) = updated else {
                            return Err(RepoError::other("an insert wrote no row"));
                        };
                        let current = dialect::Conn::fetch_optional(
                            conn,
                            Statement::new(PRODUCT_VERSION).bind(id.as_uuid()),
                        )
                        .await?
                        .map(|row| required(row.int("version")?, "version"))
                        .transpose()?;
                        return Err(missed_write(current));
                    }
                    Ok(())
                })
            })
            .await
    }
}
