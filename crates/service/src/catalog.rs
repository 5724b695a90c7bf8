//! The price book: the [`PriceBook`] port orders by SKU are priced from, and the [`Catalog`]
//! use cases staff and catalogue syncs manage it with.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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

/// The price book in ordo's database.
pub struct StoredBook(pub Arc<dyn ProductStore>);

#[async_trait]
impl PriceBook for StoredBook {
    async fn products_by_sku(&self, skus: &[Sku]) -> Result<Vec<Product>, ServiceError> {
        Ok(self.0.products_by_sku(skus).await?)
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
}

impl Catalog {
    /// The catalogue kept in `store`, reading the time from `clock`.
    pub fn new(store: Arc<dyn ProductStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
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
        self.store
            .write_products(&[ProductWrite::Insert(product.clone())])
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
            self.store
                .write_products(&[ProductWrite::Update {
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
        match self.store.write_products(&writes).await {
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
