//! Checking the books: every approval in the simulated gateway's ledger is reflected on its
//! order, and no order claims money the ledger does not show.

use std::collections::BTreeMap;

use ordo_domain::{OrderId, PaymentOperation};
use ordo_repository::{GatewayLedger, LedgerEntry, RepoError};
use rust_decimal::Decimal;

use crate::{OrderService, ServiceError};

/// Ledger entries read per page.
const PAGE: u32 = 500;

/// What a check of the books found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Books {
    /// Orders the gateway was called for.
    pub orders: usize,
    /// Approved gateway calls.
    pub approvals: usize,
    /// Orders whose payment differs from what the ledger approved, with how.
    pub mismatches: Vec<(OrderId, String)>,
    /// Orders with a gateway call still claimed (reconciliation has not settled them yet).
    pub unsettled: Vec<OrderId>,
}

/// What the ledger says an order's money should be.
#[derive(Debug, Default)]
struct Expected {
    authorized: Decimal,
    captured: Decimal,
    refunded: Decimal,
    voided: bool,
}

impl OrderService {
    /// Compares every order the gateway was called for with the gateway's `ledger`: what was
    /// authorized (and not voided), captured and refunded must be what the order shows.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn check_books(&self, ledger: &dyn GatewayLedger) -> Result<Books, ServiceError> {
        let mut expected: BTreeMap<OrderId, Expected> = BTreeMap::new();
        let mut books = Books::default();
        let mut after: Option<String> = None;
        loop {
            let page = ledger.entries(after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for entry in page {
                let money = expected.entry(entry.order_id).or_default();
                if entry.approved {
                    books.approvals = books.approvals.saturating_add(1);
                    apply(money, &entry).map_err(|error| ServiceError::Internal(error.into()))?;
                }
            }
        }
        books.orders = expected.len();
        for (id, money) in expected {
            let order = match self.orders.get(id).await {
                Ok(order) => order,
                // Deleted orders held no money when deleted; they are not read any more.
                Err(RepoError::NotFound) => continue,
                Err(error) => return Err(error.into()),
            };
            let payment = order.payment();
            if payment.pending.is_some() {
                books.unsettled.push(id);
                continue;
            }
            let authorized = if money.voided {
                Decimal::ZERO
            } else {
                money.authorized
            };
            let shown = (payment.authorized, payment.captured, payment.refunded);
            if shown != (authorized, money.captured, money.refunded) {
                books.mismatches.push((
                    id,
                    format!(
                        "the order shows authorized {} captured {} refunded {}, the ledger \
                         {authorized} {} {}",
                        shown.0, shown.1, shown.2, money.captured, money.refunded
                    ),
                ));
            }
        }
        Ok(books)
    }
}

fn apply(money: &mut Expected, entry: &LedgerEntry) -> Result<(), &'static str> {
    let add = |total: Decimal| {
        total
            .checked_add(entry.amount)
            .ok_or("ledger amounts overflow")
    };
    match entry.operation {
        PaymentOperation::Authorize => money.authorized = add(money.authorized)?,
        PaymentOperation::Capture => money.captured = add(money.captured)?,
        PaymentOperation::Void => money.voided = true,
        PaymentOperation::Refund => money.refunded = add(money.refunded)?,
    }
    Ok(())
}
