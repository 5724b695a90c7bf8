//! Discount codes, and the uses orders hold of them, shared by every replica through the
//! database: a code's limits hold however many orders race for it.
#![cfg_attr(
    feature = "mock",
    allow(clippy::ref_option_ref, reason = "in mockall's generated code")
)]

use async_trait::async_trait;
use ordo_domain::{CodeName, DiscountCode, EventRecord, Order, Version};
use uuid::Uuid;

use crate::{Claim, PageSize, RepoError};

/// A write of one code, checked against the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeWrite {
    /// A new code; [`RepoError::Duplicate`] when its name is taken.
    Insert(DiscountCode),
    /// A changed code, if still at `expected` (its use count is storage's, never written here).
    Update {
        /// The code as it is to be stored.
        code: DiscountCode,
        /// The version it was read at.
        expected: Version,
    },
}

/// A page of codes, in code order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePage {
    /// The codes.
    pub codes: Vec<DiscountCode>,
    /// The last code of this page, when more may follow.
    pub next: Option<CodeName>,
}

/// The use of a code an order takes as it is stored. The code's limits are read as the use is
/// taken (the order's customer is the one its per-customer limit counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redemption {
    /// The code's id.
    pub code_id: Uuid,
}

/// Discount codes and their uses.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DiscountCodeStore: Send + Sync {
    /// Stores a new code or a change to one.
    ///
    /// # Errors
    /// [`RepoError::Duplicate`] (a taken name), [`RepoError::LimitBelowUses`] (a usage limit
    /// below the uses held now), [`RepoError::VersionConflict`],
    /// [`RepoError::NotFound`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn write_code(&self, write: &CodeWrite) -> Result<(), RepoError>;

    /// The code with `id`.
    ///
    /// # Errors
    /// [`RepoError::NotFound`], [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn discount_code(&self, id: Uuid) -> Result<DiscountCode, RepoError>;

    /// The code named `code`, if the shop has it.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn code_named(&self, code: &CodeName) -> Result<Option<DiscountCode>, RepoError>;

    /// A page of codes in code order, after `after`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] or [`RepoError::Other`].
    async fn discount_codes<'a>(
        &self,
        after: Option<&'a CodeName>,
        limit: PageSize,
    ) -> Result<CodePage, RepoError>;

    /// Stores a new order (as [`crate::OrderRepository::insert`]) holding one use of a code,
    /// in one transaction: the order is stored only if the code is active and its limit and
    /// the customer's allow one more use; otherwise nothing is.
    ///
    /// # Errors
    /// [`RepoError::LimitReached`] (nothing stored: used up, per customer or in all, or
    /// archived meanwhile); as `insert` otherwise.
    async fn insert_redeeming<'a>(
        &self,
        order: &Order,
        claim: Option<&'a Claim>,
        redemption: Redemption,
        event: &EventRecord,
    ) -> Result<(), RepoError>;
}
