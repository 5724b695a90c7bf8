//! The price book: the [`PriceBook`] port orders by SKU are priced from, and the [`Catalog`]
//! use cases staff and catalogue syncs manage it with.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ordo_domain::{
    FieldError, Product, ProductDraft, ProductId, ProductSpec, Sku, ValidationErrors, Version,
};
use ordo_repository::{ProductPage, ProductQuery, ProductStore, ProductWrite, RepoError};

use crate::access::Caller;
use crate::api_keys::Scope;
use crate::ports::v7_parts;
use crate::{Clock, ServiceError};

/// The most products one bulk upsert may carry.
pub const MAX_BULK_PRODUCTS: usize = 1000;

/// Where prices come from: the products that SKUs name. ordo's own is the database's price
/// book ([`StoredBook`]); a deployment could answer from its own catalogue service instead.
#[async_trait]
pub trait PriceBook: Send + Sync {
    /// The products with these SKUs, in any order; a SKU the book does not hold has none.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] or [`ServiceError::Internal`].
    async fn products_by_sku(&self, skus: &[Sku]) -> Result<Vec<Product>, ServiceError>;
}

/// How old a replica's copy of a product may be when an order is priced from it.
pub const PRODUCT_TTL: Duration = Duration::from_secs(1);

/// The most products a replica keeps copies of; past it the copies start afresh.
const MAX_COPIES: usize = 10_000;

/// A replica's copies of the products orders named lately, each with when it was read, and
/// when this replica last changed the book (a read begun before that is not kept).
#[derive(Default)]
struct Copies {
    products: HashMap<Sku, (Instant, Product)>,
    changed_at: Option<Instant>,
}

/// The copies, shared by the book that reads them and the catalogue that changes the book.
#[derive(Clone, Default)]
struct SharedCopies(Arc<RwLock<Copies>>);

impl SharedCopies {
    /// Forgets every copy: this replica just changed the book.
    fn forget(&self) {
        if let Ok(mut copies) = self.0.write() {
            copies.products.clear();
            copies.changed_at = Some(Instant::now());
        }
    }
}

/// The price book in ordo's database. Orders are priced from copies at most [`PRODUCT_TTL`]
/// old: a change through this replica is seen at once, through another within that time.
pub struct StoredBook {
    store: Arc<dyn ProductStore>,
    copies: SharedCopies,
}

impl StoredBook {
    /// The book kept in `store`.
    pub fn new(store: Arc<dyn ProductStore>) -> Self {
        Self {
            store,
            copies: SharedCopies::default(),
        }
    }
}

#[async_trait]
impl PriceBook for StoredBook {
    async fn products_by_sku(&self, skus: &[Sku]) -> Result<Vec<Product>, ServiceError> {
        let mut found = Vec::with_capacity(skus.len());
        let mut missing = Vec::new();
        if let Ok(copies) = self.copies.0.read() {
            for sku in skus {
                match copies.products.get(sku) {
                    Some((read_at, product)) if read_at.elapsed() < PRODUCT_TTL => {
                        found.push(product.clone());
                    }
                    _ => missing.push(sku.clone()),
                }
            }
        } else {
            missing.extend_from_slice(skus);
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read_at = Instant::now();
        let read = self.store.products_by_sku(&missing).await?;
        if let Ok(mut copies) = self.copies.0.write()
            && copies
                .changed_at
                .is_none_or(|changed_at| changed_at < read_at)
        {
            if copies.products.len().saturating_add(read.len()) > MAX_COPIES {
                copies.products.clear();
            }
            for product in &read {
                copies
                    .products
                    .insert(product.spec().sku().clone(), (read_at, product.clone()));
            }
        }
        found.extend(read);
        Ok(found)
    }
}

/// What a bulk upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Each product as now stored, in the order sent, and what happened to it.
    pub products: Vec<(Product, Upserted)>,
}

/// What a bulk upsert did to one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Upserted {
    /// It was new.
    Created,
    /// Its SKU was in the book, with other content.
    Updated,
    /// Its SKU was in the book with this very content: nothing was written.
    Unchanged,
}

/// The price book's use cases.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn ProductStore>,
    clock: Arc<dyn Clock>,
    copies: SharedCopies,
}

impl Catalog {
    /// The catalogue kept in `store`, reading the time from `clock`.
    pub fn new(store: Arc<dyn ProductStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            copies: SharedCopies::default(),
        }
    }

    /// The catalogue kept in `store`, and the book orders are priced from, sharing this
    /// replica's copies: a change through the catalogue is seen by the book's next order.
    pub(crate) fn with_book(
        store: Arc<dyn ProductStore>,
        clock: Arc<dyn Clock>,
    ) -> (Self, StoredBook) {
        let catalog = Self::new(store.clone(), clock);
        let book = StoredBook {
            store,
            copies: catalog.copies.clone(),
        };
        (catalog, book)
    }

    /// Writes a batch, then forgets this replica's copies (whatever the outcome: a batch
    /// refused as stale means the book moved on).
    async fn write(&self, writes: &[ProductWrite]) -> Result<(), RepoError> {
        let written = self.store.write_products(writes).await;
        self.copies.forget();
        written
    }

    /// Adds a product.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (customers; keys without `catalog:write`);
    /// [`ServiceError::Validation`]; [`ServiceError::SkuTaken`]; storage errors.
    pub async fn create(
        &self,
        caller: &Caller,
        draft: &ProductDraft,
    ) -> Result<Product, ServiceError> {
        caller.check_catalog(Scope::CatalogWrite)?;
        let spec = ProductSpec::parse(draft)?;
        let now = self.clock.now();
        let product = Product::new(new_product_id(now), spec, now);
        self.write(&[ProductWrite::Insert(product.clone())])
            .await
            .map_err(|error| write_error(error, product.spec().sku()))?;
        tracing::info!(product_id = %product.id(), "product added");
        Ok(product)
    }

    /// One product.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (keys without `catalog:read`);
    /// [`ServiceError::ProductNotFound`]; storage errors.
    pub async fn get(&self, caller: &Caller, id: ProductId) -> Result<Product, ServiceError> {
        caller.check_catalog(Scope::CatalogRead)?;
        self.store.product(id).await.map_err(product_missing)
    }

    /// A page of products, in SKU order.
    ///
    /// # Errors
    /// As [`Catalog::get`].
    pub async fn list(
        &self,
        caller: &Caller,
        query: &ProductQuery,
    ) -> Result<ProductPage, ServiceError> {
        caller.check_catalog(Scope::CatalogRead)?;
        Ok(self.store.products(query).await?)
    }

    /// Changes a product: `change` turns its content as it reads now into the content wanted
    /// (a `PATCH` merges into it), if its version is still `expected`; the version is checked
    /// before `change` runs, so a stale caller learns that first. Archiving is setting the status
    /// to `archived`: orders placed with it keep their lines; new orders may not name it. A
    /// change to the same content writes nothing.
    ///
    /// # Errors
    /// As [`Catalog::create`]; [`ServiceError::ProductNotFound`], [`ServiceError::Stale`]; what
    /// `change` returns.
    pub async fn update<E: From<ServiceError>>(
        &self,
        caller: &Caller,
        id: ProductId,
        expected: Version,
        change: impl FnOnce(ProductDraft) -> Result<ProductDraft, E>,
    ) -> Result<Product, E> {
        caller.check_catalog(Scope::CatalogWrite)?;
        let mut product = self.store.product(id).await.map_err(product_missing)?;
        if product.version() != expected {
            return Err(ServiceError::Stale {
                current: product.version(),
            }
            .into());
        }
        let draft = change(product.spec().to_draft())?;
        let spec = ProductSpec::parse(&draft).map_err(ServiceError::from)?;
        let sku = spec.sku().clone();
        if product.revise(spec, self.clock.now()) {
            self.write(&[ProductWrite::Update {
                product: product.clone(),
                expected,
            }])
            .await
            .map_err(|error| write_error(error, &sku))?;
            tracing::info!(product_id = %id, "product changed");
        }
        Ok(product)
    }

    /// Creates or updates many products by SKU in one transaction (a catalogue sync): all of
    /// them or, on any error, none. A product sent with the content it has is left as it is.
    /// Errors name `products[i].<field>`.
    ///
    /// # Errors
    /// As [`Catalog::create`]: [`ServiceError::Validation`] for a product that breaks a rule
    /// or a SKU sent twice; [`ServiceError::CatalogChanged`] when another write added or
    /// changed one of them meanwhile (send the batch again).
    pub async fn upsert(
        &self,
        caller: &Caller,
        drafts: &[ProductDraft],
    ) -> Result<BulkOutcome, ServiceError> {
        caller.check_catalog(Scope::CatalogWrite)?;
        let specs = parse_batch(drafts)?;
        let skus: Vec<Sku> = specs.iter().map(|spec| spec.sku().clone()).collect();
        let mut existing: HashMap<Sku, Product> = self
            .store
            .products_by_sku(&skus)
            .await?
            .into_iter()
            .map(|product| (product.spec().sku().clone(), product))
            .collect();
        let now = self.clock.now();
        let mut writes = Vec::new();
        let mut products = Vec::with_capacity(specs.len());
        for spec in specs {
            let Some(mut product) = existing.remove(spec.sku()) else {
                let product = Product::new(new_product_id(now), spec, now);
                writes.push(ProductWrite::Insert(product.clone()));
                products.push((product, Upserted::Created));
                continue;
            };
            let expected = product.version();
            if product.revise(spec, now) {
                writes.push(ProductWrite::Update {
                    product: product.clone(),
                    expected,
                });
                products.push((product, Upserted::Updated));
            } else {
                products.push((product, Upserted::Unchanged));
            }
        }
        match self.write(&writes).await {
            Ok(()) => {}
            // Another write added one of these SKUs or changed one of these products since the
            // read: the batch was worked out against a book that is gone.
            Err(RepoError::Duplicate { .. } | RepoError::VersionConflict { .. }) => {
                return Err(ServiceError::CatalogChanged);
            }
            Err(error) => return Err(product_missing(error)),
        }
        tracing::info!(
            products = products.len(),
            written = writes.len(),
            "catalogue upserted"
        );
        Ok(BulkOutcome { products })
    }
}

/// Every product of a batch checked, errors named `products[i].<field>`; a SKU sent twice is
/// refused, since which one wins would be a guess.
fn parse_batch(drafts: &[ProductDraft]) -> Result<Vec<ProductSpec>, ServiceError> {
    let mut errors = Vec::new();
    let mut specs = Vec::with_capacity(drafts.len());
    let mut seen = HashSet::new();
    if drafts.len() > MAX_BULK_PRODUCTS {
        return Err(ServiceError::TooManyProducts {
            max: MAX_BULK_PRODUCTS,
        });
    }
    for (index, draft) in drafts.iter().enumerate() {
        match ProductSpec::parse(draft) {
            Ok(spec) => {
                if !seen.insert(spec.sku().clone()) {
                    errors.push(FieldError {
                        field: format!("products[{index}].sku"),
                        violation: ordo_domain::Violation::Duplicate,
                    });
                }
                specs.push(spec);
            }
            Err(invalid) => errors.extend(invalid.errors().iter().map(|error| FieldError {
                field: format!("products[{index}].{}", error.field),
                violation: error.violation.clone(),
            })),
        }
    }
    match ValidationErrors::from_errors(errors) {
        Some(errors) => Err(ServiceError::Validation(errors)),
        None => Ok(specs),
    }
}

/// A new product id: a `UUIDv7` of `now`.
fn new_product_id(now: chrono::DateTime<chrono::Utc>) -> ProductId {
    let (millis, random) = v7_parts(now);
    ProductId::from_parts(millis, &random)
}

/// A storage error in the product's terms.
fn product_missing(error: RepoError) -> ServiceError {
    match error {
        RepoError::NotFound => ServiceError::ProductNotFound,
        other => other.into(),
    }
}

/// A write's storage error in the product's terms: a duplicate is its SKU's.
fn write_error(error: RepoError, sku: &Sku) -> ServiceError {
    match error {
        RepoError::Duplicate { .. } => ServiceError::SkuTaken { sku: sku.clone() },
        other => product_missing(other),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ordo_domain::{ProductStatus, Sku};
    use ordo_repository::MockProductStore;

    use super::*;
    use crate::{Role, SystemClock};

    fn tee() -> Product {
        let draft = ProductDraft {
            sku: "TEE".to_owned(),
            title: "T-shirt".to_owned(),
            options: BTreeMap::new(),
            requires_shipping: true,
            tax_class: None,
            status: ProductStatus::Active,
            prices: BTreeMap::from([("USD".to_owned(), rust_decimal::Decimal::TEN)]),
        };
        let spec = ProductSpec::parse(&draft).unwrap_or_else(|_| unreachable!());
        Product::new(new_product_id(chrono::Utc::now()), spec, chrono::Utc::now())
    }

    /// Orders within a second share one read of a product; a change through this replica's
    /// catalogue is seen by its next order; a SKU the book lacks is asked for every time.
    #[tokio::test]
    async fn orders_share_a_products_read_until_the_replica_changes_the_book() {
        let mut store = MockProductStore::new();
        store
            .expect_products_by_sku()
            .withf(|skus| skus.len() == 1 && skus[0].as_str() == "TEE")
            .times(2)
            .returning(|_| Ok(vec![tee()]));
        store
            .expect_products_by_sku()
            .withf(|skus| skus.len() == 1 && skus[0].as_str() == "NONE")
            .times(2)
            .returning(|_| Ok(Vec::new()));
        store.expect_write_products().times(1).returning(|_| Ok(()));
        let (catalog, book) = Catalog::with_book(Arc::new(store), Arc::new(SystemClock));
        let sku = |raw| Sku::parse(raw).unwrap_or_else(|_| unreachable!());
        for _ in 0..3 {
            let found = book.products_by_sku(&[sku("TEE")]).await;
            assert_eq!(found.map(|p| p.len()).ok(), Some(1));
        }
        for _ in 0..2 {
            let found = book.products_by_sku(&[sku("NONE")]).await;
            assert_eq!(found.map(|p| p.len()).ok(), Some(0));
        }
        let admin = Caller::operator(Role::Admin, "a").unwrap_or_else(|_| unreachable!());
        let created = catalog.create(&admin, &tee().spec().to_draft()).await;
        assert!(created.is_ok());
        let found = book.products_by_sku(&[sku("TEE")]).await;
        assert_eq!(found.map(|p| p.len()).ok(), Some(1));
    }
}
