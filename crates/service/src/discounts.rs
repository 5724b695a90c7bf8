//! Discount codes: the use cases staff manage them with, and how an order's code becomes its
//! discount (its limits are held by storage, in the transaction that stores the order).

use std::sync::Arc;

use ordo_domain::{
    CodeName, DiscountCode, DiscountCodeDraft, DiscountCodeSpec, NewOrder, ValidationErrors,
    Version, Violation, price,
};
use ordo_repository::{CodePage, CodeWrite, DiscountCodeStore, PageSize, Redemption, RepoError};
use uuid::Uuid;

use crate::access::Caller;
use crate::api_keys::Scope;
use crate::ports::v7_parts;
use crate::{Clock, ServiceError};

/// The discount codes' use cases. Staff and admins manage them (keys: `catalog:write`; reading
/// them, `catalog:read`); customers never list them, only type one at checkout.
#[derive(Clone)]
pub struct DiscountCodes {
    store: Arc<dyn DiscountCodeStore>,
    clock: Arc<dyn Clock>,
}

impl DiscountCodes {
    /// The codes kept in `store`.
    pub fn new(store: Arc<dyn DiscountCodeStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Makes a code.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`], [`ServiceError::Validation`], [`ServiceError::CodeTaken`],
    /// storage errors.
    pub async fn create(
        &self,
        caller: &Caller,
        draft: &DiscountCodeDraft,
    ) -> Result<DiscountCode, ServiceError> {
        caller.check_discount_codes(Scope::CatalogWrite)?;
        let spec = DiscountCodeSpec::parse(draft)?;
        let now = self.clock.now();
        let (millis, random) = v7_parts(now);
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        let code = DiscountCode::new(id, spec, now);
        self.store
            .write_code(&CodeWrite::Insert(code.clone()))
            .await
            .map_err(|error| write_error(error, code.spec().code()))?;
        tracing::info!(code_id = %id, "discount code made");
        Ok(code)
    }

    /// One code.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`], [`ServiceError::CodeNotFound`], storage errors.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<DiscountCode, ServiceError> {
        caller.check_discount_codes(Scope::CatalogRead)?;
        self.store.discount_code(id).await.map_err(missing)
    }

    /// A page of codes, in code order.
    ///
    /// # Errors
    /// As [`DiscountCodes::get`].
    pub async fn list(
        &self,
        caller: &Caller,
        after: Option<&CodeName>,
        limit: PageSize,
    ) -> Result<CodePage, ServiceError> {
        caller.check_discount_codes(Scope::CatalogRead)?;
        Ok(self.store.discount_codes(after, limit).await?)
    }

    /// Changes a code as `change` says, if its version is still `expected` (checked first).
    /// Its use count is never changed this way; archiving stops new orders using it.
    ///
    /// # Errors
    /// As [`DiscountCodes::create`]; [`ServiceError::CodeNotFound`], [`ServiceError::Stale`].
    pub async fn update<E: From<ServiceError>>(
        &self,
        caller: &Caller,
        id: Uuid,
        expected: Version,
        change: impl FnOnce(DiscountCodeDraft) -> Result<DiscountCodeDraft, E>,
    ) -> Result<DiscountCode, E> {
        caller.check_discount_codes(Scope::CatalogWrite)?;
        let mut code = self.store.discount_code(id).await.map_err(missing)?;
        if code.version() != expected {
            return Err(ServiceError::Stale {
                current: code.version(),
            }
            .into());
        }
        let spec = DiscountCodeSpec::parse(&change(code.spec().to_draft())?)
            .map_err(ServiceError::from)?;
        let name = spec.code().clone();
        if code.revise(spec, self.clock.now()) {
            self.store
                .write_code(&CodeWrite::Update {
                    code: code.clone(),
                    expected,
                })
                .await
                .map_err(|error| write_error(error, &name))?;
            tracing::info!(code_id = %id, "discount code changed");
        }
        Ok(code)
    }

    /// Stores `order` holding `redemption`'s use, all or nothing.
    ///
    /// # Errors
    /// [`RepoError::LimitReached`] (nothing stored), or as storing an order.
    pub(crate) async fn insert_redeeming(
        &self,
        order: &ordo_domain::Order,
        claim: Option<&ordo_repository::Claim>,
        redemption: Redemption,
        event: &ordo_domain::EventRecord,
    ) -> Result<(), RepoError> {
        self.store
            .insert_redeeming(order, claim, redemption, event)
            .await
    }

    /// The order with the discount of the code it names, and the use to take of it when it is
    /// stored; `None` when the order names no code (or names one it may go without, and the
    /// code cannot be used: [`OrderCode::Dropped`]).
    ///
    /// # Errors
    /// [`ServiceError::Validation`] naming `discount_code` (unknown, not active, wrong
    /// currency, below its minimum) unless the order may go without; storage errors.
    pub(crate) async fn apply(
        &self,
        order: NewOrder,
        code: &str,
        optional: bool,
        policy: ordo_domain::RoundingPolicy,
    ) -> Result<(NewOrder, OrderCode), ServiceError> {
        let refused = |violation: Violation, order: NewOrder| {
            if optional {
                Ok((order, OrderCode::Dropped))
            } else {
                Err(ServiceError::Validation(field_error(violation)))
            }
        };
        let name = match CodeName::parse(code) {
            Ok(name) => name,
            Err(violation) => return refused(violation, order),
        };
        let Some(found) = self.store.code_named(&name).await? else {
            return refused(Violation::UnknownCode, order);
        };
        let subtotal = price(&order, policy)?.subtotal();
        match found
            .spec()
            .discount_for(order.currency(), subtotal, self.clock.now())
        {
            Ok(discount) => Ok((
                order.with_code(name, discount),
                OrderCode::Held(Redemption {
                    code_id: found.id(),
                }),
            )),
            Err(violation) => refused(violation, order),
        }
    }
}

/// What an order's discount code comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderCode {
    /// The order names no code.
    None,
    /// The code applies: this use is taken when the order is stored.
    Held(Redemption),
    /// The code cannot be used, and the order goes without it, as it asked.
    Dropped,
}

/// One error, at `discount_code`.
fn field_error(violation: Violation) -> ValidationErrors {
    ValidationErrors::single("discount_code", violation)
}

fn missing(error: RepoError) -> ServiceError {
    match error {
        RepoError::NotFound => ServiceError::CodeNotFound,
        other => other.into(),
    }
}

fn write_error(error: RepoError, name: &CodeName) -> ServiceError {
    match error {
        RepoError::Duplicate { .. } => ServiceError::CodeTaken { code: name.clone() },
        RepoError::LimitBelowUses { used } => ServiceError::Validation(ValidationErrors::single(
            "usage_limit",
            Violation::LimitBelowUses { used },
        )),
        other => missing(other),
    }
}
