//! The price book's products: what orders by SKU are priced from.
#![cfg_attr(
    feature = "mock",
    allow(clippy::ref_option_ref, reason = "in mockall's generated code")
)]

use async_trait::async_trait;
use ordo_domain::{Product, ProductId, ProductStatus, Sku, TaxClass, Version};

use crate::{PageSize, RepoError};

/// Which products a page holds: every filter given must match, in SKU order (byte order, the
/// same on both databases), after the SKU `after` when it is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductQuery {
    /// Only products with this status.
    pub status: Option<ProductStatus>,
    /// Only products of this tax class.
    pub tax_class: Option<TaxClass>,
    /// The last SKU of the page before.
    pub after: Option<Sku>,
    /// How many at most.
    pub limit: PageSize,
}

/// A page of products, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    /// The products, in SKU order.
    pub products: Vec<Product>,
    /// The last SKU of this page, when more may follow.
    pub next: Option<Sku>,
}

/// One product write of a batch, checked against the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductWrite {
    /// A new product; [`RepoError::Duplicate`] when its SKU or id is taken.
    Insert(Product),
    /// A changed product, if it is still at `expected`.
    Update {
        /// The product as it is to be stored (its version past `expected`).
        product: Product,
        /// The version it was read at.
        expected: Version,
    },
}

/// The price book, shared by every replica through the database.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ProductStore: Send + Sync {
    /// The product with `id`.
    ///
    /// # Errors
    /// [`RepoError::NotFound`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn product(&self, id: ProductId) -> Result<Product, RepoError>;

    /// The products with these SKUs, archived or not, in no particular order; a SKU the book
    /// does not hold has none.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn products_by_sku(&self, skus: &[Sku]) -> Result<Vec<Product>, RepoError>;

    /// A page of products.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn products(&self, query: &ProductQuery) -> Result<ProductPage, RepoError>;

    /// Makes every write or none: the first that cannot be made undoes the batch and is the
    /// error ([`RepoError::Duplicate`] for a taken SKU, [`RepoError::VersionConflict`] or
    /// [`RepoError::NotFound`] for an update).
    ///
    /// # Errors
    /// As above; [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn write_products(&self, writes: &[ProductWrite]) -> Result<(), RepoError>;
}
