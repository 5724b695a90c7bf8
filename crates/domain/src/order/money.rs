//! The order's payment moves: status changes under the payment rules (docs/status.md),
//! claimed gateway calls and their answers, refunds.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::payment::{
    GatewayOutcome, PaymentError, PaymentOperation, PaymentStatus, PendingPayment,
};

use super::{ChangeError, Order, PaymentStep, StatusChange};

impl Order {
    /// Starts a caller's status change under the payment rules (the table in
    /// `docs/status.md`): processing and completing need money held or taken; cancelling
    /// gives back what is held or taken. A change that moves no money is applied at once; one
    /// that does is claimed (the version moves on and the call is recorded as in flight), and
    /// the caller makes the gateway call it is told, then [`Order::settle_payment`].
    ///
    /// # Errors
    /// [`ChangeError::Illegal`] when the status machine forbids the move;
    /// [`ChangeError::Payment`] when a payment call is in flight, or the payment state does not
    /// allow the move. The order is unchanged.
    pub fn begin_change(
        &mut self,
        change: StatusChange,
        now: DateTime<Utc>,
    ) -> Result<PaymentStep, ChangeError> {
        self.status.check_transition(change.target())?;
        if matches!(change, StatusChange::Cancel(_)) && self.has_shipped() {
            return Err(ChangeError::Shipped);
        }
        if let Some(pending) = &self.payment.pending {
            return Err(PaymentError::InFlight {
                operation: pending.operation,
            }
            .into());
        }
        let status = self.payment.status;
        let manual = self.provider == super::PaymentProvider::Manual;
        let operation = match (&change, status) {
            // Paid outside a gateway: worked on before the money arrives.
            (StatusChange::Process, PaymentStatus::Unpaid | PaymentStatus::PartiallyPaid)
                if manual =>
            {
                None
            }
            (StatusChange::Process, PaymentStatus::Authorized)
            | (
                StatusChange::Process | StatusChange::Complete,
                PaymentStatus::Paid | PaymentStatus::PartiallyRefunded,
            )
            // Refunded in full while being worked on: it may still end (what shipped cannot
            // be cancelled).
            | (StatusChange::Complete, PaymentStatus::Refunded)
            | (
                StatusChange::Cancel(_),
                PaymentStatus::Unpaid | PaymentStatus::Failed | PaymentStatus::Refunded,
            ) => None,
            (StatusChange::Complete, PaymentStatus::Authorized) => Some(PaymentOperation::Capture),
            // Captured in part as things shipped: completing takes the rest.
            (StatusChange::Complete, PaymentStatus::PartiallyPaid) if !manual => {
                Some(PaymentOperation::Capture)
            }
            (StatusChange::Cancel(_), PaymentStatus::Authorized) => Some(PaymentOperation::Void),
            (StatusChange::Cancel(_), PaymentStatus::Paid | PaymentStatus::PartiallyRefunded) => {
                Some(PaymentOperation::Refund)
            }
            (StatusChange::Cancel(_), PaymentStatus::PartiallyPaid) if manual => {
                Some(PaymentOperation::Refund)
            }
            // Captured in part through a gateway means something shipped: never cancelled
            // (and it would need a refund and a void).
            (StatusChange::Process | StatusChange::Complete, _)
            | (StatusChange::Cancel(_), PaymentStatus::Unknown | PaymentStatus::PartiallyPaid) => {
                return Err(PaymentError::WrongStatus {
                    status,
                    action: change.verb(),
                }
                .into());
            }
        };
        let Some(operation) = operation else {
            self.change_status(change, now)?;
            return Ok(PaymentStep::Done);
        };
        self.payment.pending = Some(PendingPayment {
            operation,
            change: Some(change),
        });
        self.touch(now);
        Ok(self.pending_call())
    }

    /// Claims a gateway call with no status change (a capture right after authorization).
    ///
    /// # Errors
    /// [`PaymentError::InFlight`] or [`PaymentError::WrongStatus`]; the order is unchanged.
    pub fn begin_payment(
        &mut self,
        operation: PaymentOperation,
        now: DateTime<Utc>,
    ) -> Result<PaymentStep, PaymentError> {
        let allowed: &[PaymentStatus] = match operation {
            PaymentOperation::Authorize => &[PaymentStatus::Unpaid],
            PaymentOperation::Capture | PaymentOperation::Void => &[PaymentStatus::Authorized],
            PaymentOperation::Refund => &[PaymentStatus::Paid, PaymentStatus::PartiallyRefunded],
        };
        self.payment_must_be(allowed, operation.as_str())?;
        self.payment.pending = Some(PendingPayment {
            operation,
            change: None,
        });
        self.touch(now);
        Ok(self.pending_call())
    }

    /// The gateway call in flight and its amount, or [`PaymentStep::Done`] when none is.
    pub fn pending_call(&self) -> PaymentStep {
        let Some(pending) = &self.payment.pending else {
            return PaymentStep::Done;
        };
        let uncaptured = self
            .payment
            .authorized
            .checked_sub(self.payment.captured)
            .unwrap_or(Decimal::ZERO);
        let amount = match pending.operation {
            PaymentOperation::Authorize => self.pricing.total,
            PaymentOperation::Capture => self
                .claimed_shipment()
                .and_then(|shipment| shipment.capture)
                .map_or(uncaptured, |capture| capture.amount),
            PaymentOperation::Void => self.payment.authorized,
            PaymentOperation::Refund => self.payment.refundable(),
        };
        PaymentStep::Call {
            operation: pending.operation,
            amount,
        }
    }

    /// Records what the gateway said to the call in flight. Approved: the money moves and the
    /// claimed status change is applied. Declined: the claim ends and the status stays (a
    /// declined authorization leaves the payment failed). Unknown: the claim stays for
    /// reconciliation (an authorization's payment shows `unknown` meanwhile).
    ///
    /// Returns whether the order changed (and so must be written).
    ///
    /// # Errors
    /// [`ChangeError::Payment`] with [`PaymentError::NothingPending`] when no call is in
    /// flight; [`ChangeError::Illegal`] if the claimed change no longer fits the status (a
    /// corrupt record). The order is unchanged.
    pub fn settle_payment(
        &mut self,
        outcome: GatewayOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, ChangeError> {
        let Some(pending) = self.payment.pending.clone() else {
            return Err(PaymentError::NothingPending.into());
        };
        let PaymentStep::Call { amount, .. } = self.pending_call() else {
            return Err(PaymentError::NothingPending.into());
        };
        let mut settled = self.clone();
        let shipment = self.claimed_shipment().map(|shipment| shipment.id);
        match outcome {
            GatewayOutcome::Unknown => {
                if pending.operation != PaymentOperation::Authorize
                    || self.payment.status == PaymentStatus::Unknown
                {
                    return Ok(false);
                }
                settled.payment.status = PaymentStatus::Unknown;
            }
            GatewayOutcome::Declined => {
                if pending.operation == PaymentOperation::Authorize {
                    settled.payment.status = PaymentStatus::Failed;
                }
                settled.payment.pending = None;
                settled.end_shipment_capture(shipment, super::CaptureState::Failed);
            }
            GatewayOutcome::Approved { reference } => {
                let payment = &mut settled.payment;
                match pending.operation {
                    PaymentOperation::Authorize => {
                        payment.status = PaymentStatus::Authorized;
                        payment.authorized = self.pricing.total;
                        payment.reference = Some(reference);
                    }
                    PaymentOperation::Capture => {
                        payment.captured = payment
                            .captured
                            .checked_add(amount)
                            .filter(|captured| *captured <= payment.authorized)
                            .unwrap_or(payment.authorized);
                        payment.status = if payment.captured == payment.authorized {
                            PaymentStatus::Paid
                        } else {
                            PaymentStatus::PartiallyPaid
                        };
                    }
                    PaymentOperation::Void => {
                        payment.status = PaymentStatus::Unpaid;
                        payment.authorized = Decimal::new(0, payment.authorized.scale());
                    }
                    PaymentOperation::Refund => {
                        payment.status = PaymentStatus::Refunded;
                        payment.refunded = payment.captured;
                    }
                }
                payment.pending = None;
                settled.end_shipment_capture(shipment, super::CaptureState::Captured);
                if let Some(change) = pending.change {
                    settled.change_status(change, now)?;
                } else if shipment.is_some()
                    && settled.payment.status == PaymentStatus::Paid
                    && settled.status == crate::status::OrderStatus::Processing
                    && settled.fully_fulfilled()
                {
                    // The last shipment's capture completes the order it was waiting on.
                    settled.change_status(StatusChange::Complete, now)?;
                }
            }
        }
        settled.touch(now);
        // `change_status` may have touched already; one settle is one version step.
        settled.version = self.version.next();
        *self = settled;
        Ok(true)
    }

    /// Ends the claimed capture of `shipment`, if one was claimed.
    fn end_shipment_capture(
        &mut self,
        shipment: Option<super::FulfillmentId>,
        state: super::CaptureState,
    ) {
        let claimed = self
            .fulfillments
            .iter_mut()
            .filter(|f| Some(f.id) == shipment)
            .filter_map(|f| f.capture.as_mut());
        for capture in claimed {
            capture.state = state;
        }
    }

    /// Checks that `amount` may be refunded now.
    ///
    /// # Errors
    /// [`PaymentError::WrongStatus`] unless paid or partially refunded;
    /// [`PaymentError::NotPositive`]; [`PaymentError::ExceedsCaptured`].
    pub fn check_refund(&self, amount: Decimal) -> Result<(), PaymentError> {
        self.payment_must_be(
            &[PaymentStatus::Paid, PaymentStatus::PartiallyRefunded],
            "refund",
        )?;
        if amount <= Decimal::ZERO {
            return Err(PaymentError::NotPositive);
        }
        let max_scale = u32::from(self.pricing.rounding.minor_units());
        if amount.normalize().scale() > max_scale {
            return Err(PaymentError::TooPrecise { max_scale });
        }
        if amount > self.payment.refundable() {
            return Err(PaymentError::ExceedsCaptured {
                available: self.payment.refundable(),
            });
        }
        Ok(())
    }

    /// Records a refund of `amount`.
    ///
    /// # Errors
    /// As [`Order::check_refund`]; the order is unchanged.
    pub fn record_refund(
        &mut self,
        amount: Decimal,
        now: DateTime<Utc>,
    ) -> Result<(), PaymentError> {
        self.check_refund(amount)?;
        // Checked to have at most the currency's decimals: kept with exactly them.
        let mut amount = amount;
        amount.rescale(u32::from(self.pricing.rounding.minor_units()));
        let refunded =
            self.payment
                .refunded
                .checked_add(amount)
                .ok_or(PaymentError::ExceedsCaptured {
                    available: self.payment.refundable(),
                })?;
        self.payment.refunded = refunded;
        self.payment.status = if refunded == self.payment.captured {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        };
        self.touch(now);
        Ok(())
    }

    /// Releases a refund reservation the gateway refused.
    ///
    /// # Errors
    /// [`PaymentError::ExceedsCaptured`] when less than `amount` is recorded as refunded.
    pub fn revert_refund(
        &mut self,
        amount: Decimal,
        now: DateTime<Utc>,
    ) -> Result<(), PaymentError> {
        let refunded = self
            .payment
            .refunded
            .checked_sub(amount)
            .filter(|left| *left >= Decimal::ZERO)
            .ok_or(PaymentError::ExceedsCaptured {
                available: self.payment.refunded,
            })?;
        self.payment.refunded = refunded;
        self.payment.status = if !refunded.is_zero() {
            PaymentStatus::PartiallyRefunded
        } else if self.provider == super::PaymentProvider::Manual
            && self.payment.captured < self.pricing.total
        {
            PaymentStatus::PartiallyPaid
        } else {
            PaymentStatus::Paid
        };
        self.touch(now);
        Ok(())
    }

    fn payment_must_be(
        &self,
        allowed: &[PaymentStatus],
        action: &'static str,
    ) -> Result<(), PaymentError> {
        if let Some(pending) = &self.payment.pending {
            return Err(PaymentError::InFlight {
                operation: pending.operation,
            });
        }
        if allowed.contains(&self.payment.status) {
            Ok(())
        } else {
            Err(PaymentError::WrongStatus {
                status: self.payment.status,
                action,
            })
        }
    }
}
