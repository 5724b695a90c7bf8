//! Payments taken outside a gateway: bank transfers, cash on delivery, an invoice paid later.
//!
//! An order paid this way holds nothing at placement. Staff record each payment as it arrives
//! (amount, method, reference, when it was received); several partial ones add up, and the
//! payment status follows: `unpaid` → `partially_paid` → `paid`. Payment terms give the order a
//! due date; one still unpaid after it is overdue. Refunds go through the
//! [`crate::PaymentOperation::Refund`] call like any other, to the manual provider, whose people
//! send the money back.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator as _, IntoStaticStr};
use uuid::Uuid;

use crate::order::{Order, StatusChange};
use crate::payment::{PaymentError, PaymentStatus};
use crate::record::text::line as text_line;
use crate::status::OrderStatus;
use crate::validation::{Collector, ValidationErrors, Violation};

/// The longest payment reference (a bank transfer's, a receipt number).
pub const MAX_PAYMENT_REFERENCE_CHARS: usize = 200;
/// The most payments an order records.
pub const MAX_RECORDED_PAYMENTS: usize = 100;
/// The longest payment terms, in days.
pub const MAX_TERMS_DAYS: u32 = 365;

/// Who takes an order's money.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PaymentProvider {
    /// The shop's payment gateway: authorized at placement, captured, refunded by its calls.
    #[default]
    Gateway,
    /// Outside any gateway: staff record each payment as it arrives.
    Manual,
}

impl PaymentProvider {
    /// The provider as written in JSON (`"manual"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The provider named `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        Self::iter().find(|provider| provider.as_str() == text)
    }
}

/// How a manual payment was made.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PaymentMethod {
    /// A bank transfer.
    BankTransfer,
    /// Cash (on delivery, at the counter).
    Cash,
    /// A cheque.
    Cheque,
    /// A card terminal not connected to ordo.
    CardTerminal,
    /// Anything else: the reference says what.
    Other,
}

impl PaymentMethod {
    /// The method as written in JSON (`"bank_transfer"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A payment recorded by staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPayment {
    /// Its id.
    pub id: Uuid,
    /// How much, in the order's currency.
    #[serde(with = "crate::amount_serde")]
    pub amount: Decimal,
    /// How it was paid.
    pub method: PaymentMethod,
    /// The bank's, the receipt's or the cheque's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When the money arrived.
    pub received_at: DateTime<Utc>,
    /// Who recorded it (the caller's role and subject).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A payment as staff send it, unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDraft {
    /// How much.
    pub amount: Decimal,
    /// How it was paid (`bank_transfer`, `cash`, `cheque`, `card_terminal`, `other`).
    pub method: String,
    /// Its reference.
    pub reference: Option<String>,
    /// When it arrived; now when not given.
    pub received_at: Option<DateTime<Utc>>,
}

impl Order {
    /// Who takes the order's money.
    pub fn payment_provider(&self) -> PaymentProvider {
        self.provider
    }

    /// When a manual payment is due, if the order has payment terms.
    pub fn payment_due_at(&self) -> Option<DateTime<Utc>> {
        self.payment_due_at
    }

    /// The payments staff recorded, oldest first.
    pub fn recorded_payments(&self) -> &[RecordedPayment] {
        &self.recorded_payments
    }

    /// Paid outside a gateway: nothing held at placement (no authorization claimed), due by
    /// `due_at` if it has terms. Only a newly placed order (version 1) changes this way.
    pub fn pay_manually(&mut self, due_at: Option<DateTime<Utc>>) {
        if self.version == super::Version::FIRST {
            self.provider = PaymentProvider::Manual;
            self.payment_due_at = due_at;
            self.payment.pending = None;
            // Nothing to pay (a free order): paid as placed.
            if self.pricing.total.is_zero() {
                self.payment.status = PaymentStatus::Paid;
            }
        }
    }

    /// Records a payment of a manually paid order, as payment `id` recorded by `by`: the
    /// amounts add up and the payment status follows (`partially_paid`, then `paid`). The
    /// payment that pays in full a processing order whose units are all fulfilled completes
    /// it. One version step.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `amount` (zero, too precise, more than is due), `method` or
    /// `reference`; [`PaymentError`] when the order is not paid manually, is cancelled, is
    /// paid already, or a call is in flight. The order is unchanged.
    pub fn record_payment(
        &mut self,
        id: Uuid,
        draft: &PaymentDraft,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RecordError> {
        if self.provider != PaymentProvider::Manual {
            return Err(PaymentError::WrongStatus {
                status: self.payment.status,
                action: "record a payment: this order is paid through the gateway",
            }
            .into());
        }
        self.no_call_in_flight()?;
        if self.status == OrderStatus::Cancelled
            || !matches!(
                self.payment.status,
                PaymentStatus::Unpaid | PaymentStatus::PartiallyPaid
            )
        {
            return Err(PaymentError::WrongStatus {
                status: self.payment.status,
                action: "record a payment",
            }
            .into());
        }
        if self.recorded_payments.len() >= MAX_RECORDED_PAYMENTS {
            return Err(RecordError::TooMany {
                max: MAX_RECORDED_PAYMENTS,
            });
        }
        let mut errors = Collector::default();
        let scale = u32::from(self.pricing.rounding.minor_units());
        let due = self
            .pricing
            .total
            .checked_sub(self.payment.captured)
            .unwrap_or(Decimal::ZERO);
        let mut amount = draft.amount;
        if amount <= Decimal::ZERO {
            errors.push("amount", Violation::NotPositive);
        } else if amount.normalize().scale() > scale {
            errors.push("amount", Violation::TooPrecise { max_scale: scale });
        } else if amount > due {
            errors.push("amount", Violation::MoreThanDue { due });
        }
        amount.rescale(scale);
        let method = PaymentMethod::iter().find(|m| m.as_str() == draft.method);
        if method.is_none() {
            errors.push("method", Violation::UnknownPaymentMethod);
        }
        let reference = draft.reference.as_ref().and_then(|raw| {
            text_line(raw, MAX_PAYMENT_REFERENCE_CHARS)
                .map_err(|violation| errors.push("reference", violation))
                .ok()
        });
        if draft.received_at.is_some_and(|at| at > now) {
            errors.push("received_at", Violation::InTheFuture);
        }
        let method = errors.finish(method)?;
        let captured = self
            .payment
            .captured
            .checked_add(amount)
            .ok_or(PaymentError::NotPositive)?;
        self.payment.captured = captured;
        self.payment.authorized = captured;
        self.payment.status = if captured >= self.pricing.total {
            PaymentStatus::Paid
        } else {
            PaymentStatus::PartiallyPaid
        };
        self.recorded_payments.push(RecordedPayment {
            id,
            amount,
            method,
            reference,
            received_at: draft.received_at.unwrap_or(now),
            recorded_by: by.to_owned(),
            recorded_at: now,
        });
        // Paid in full with nothing left to fulfil: it completes (and touches once).
        if self.payment.status == PaymentStatus::Paid
            && self.status == OrderStatus::Processing
            && self.fully_fulfilled()
            && self.change_status(StatusChange::Complete, now).is_ok()
        {
            return Ok(());
        }
        self.touch(now);
        Ok(())
    }

    /// Whether the recorded payments hold together with the payment: only on a manual order,
    /// adding up to what was captured.
    pub(super) fn recorded_payments_fit(&self) -> bool {
        let sum = self
            .recorded_payments
            .iter()
            .try_fold(Decimal::ZERO, |sum, p| sum.checked_add(p.amount));
        match self.provider {
            PaymentProvider::Gateway => self.recorded_payments.is_empty(),
            PaymentProvider::Manual => sum == Some(self.payment.captured),
        }
    }
}

/// Why a payment cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A field breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The payment does not take it.
    #[error(transparent)]
    Payment(#[from] PaymentError),
    /// The order records as many payments as it may.
    #[error("an order records at most {max} payments")]
    TooMany {
        /// The limit.
        max: usize,
    },
}

/// Payment terms in days, checked: 0 (due at once) to [`MAX_TERMS_DAYS`].
///
/// # Errors
/// [`Violation::TermsOutOfRange`].
pub fn terms_days_checked(days: i64) -> Result<u32, Violation> {
    u32::try_from(days)
        .ok()
        .filter(|days| *days <= MAX_TERMS_DAYS)
        .ok_or(Violation::TermsOutOfRange {
            max: MAX_TERMS_DAYS,
        })
}

/// How an order is to be paid, as the placer chose: the provider and, for a manual one, its
/// payment terms (the shop's own when none are given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentChoice {
    /// Who takes the money.
    pub provider: PaymentProvider,
    /// Days until a manual payment is due.
    pub terms_days: Option<u32>,
}

impl PaymentChoice {
    /// The choice a request names: `payment_provider` (`gateway` when not given) and
    /// `payment_terms_days` (manual orders only).
    ///
    /// # Errors
    /// [`ValidationErrors`] naming the field.
    pub fn parse(
        provider: Option<&str>,
        terms_days: Option<i64>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let provider = match provider {
            None => Some(PaymentProvider::Gateway),
            Some(name) => {
                let parsed = PaymentProvider::parse(name);
                if parsed.is_none() {
                    errors.push("payment_provider", Violation::UnknownPaymentProvider);
                }
                parsed
            }
        };
        let terms_days = terms_days.and_then(|days| {
            terms_days_checked(days)
                .map_err(|violation| errors.push("payment_terms_days", violation))
                .ok()
        });
        if terms_days.is_some() && provider == Some(PaymentProvider::Gateway) {
            errors.push("payment_terms_days", Violation::TermsWithoutManual);
        }
        let provider = errors.finish(provider)?;
        Ok(Self {
            provider,
            terms_days,
        })
    }

    /// When a manual payment chosen `now` is due: after its terms, or `default_days`; none for
    /// the gateway.
    pub fn due_from(&self, now: DateTime<Utc>, default_days: u32) -> Option<DateTime<Utc>> {
        (self.provider == PaymentProvider::Manual).then(|| {
            let days = self.terms_days.unwrap_or(default_days);
            now.checked_add_signed(chrono::Duration::days(i64::from(days)))
                .unwrap_or(now)
        })
    }
}
