//! Service errors as problem responses: the one place that decides status codes.

use axum::response::{IntoResponse, Response};
use ordo_domain::{FulfillmentError, PaymentError, PricingError};
use ordo_service::{DetailRefusal, KeyInputError, ServiceError};

use crate::dto::etag;
use crate::problem::ProblemKind;
use crate::problem::{FieldProblem, Problem};

/// How long a client should wait before retrying when storage is unavailable.
const RETRY_AFTER_SECONDS: u32 = 1;

/// A handler's error: a service error, or a problem found at the HTTP edge.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// From a use case.
    Service(ServiceError),
    /// Already a problem (a bad header, parameter or body).
    Problem(Problem),
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::Service(error)
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Problem(problem) => problem.into_response(),
            Self::Service(error) => problem_for(error).into_response(),
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one arm per error: the one place that decides status codes"
)]
fn problem_for(error: ServiceError) -> Problem {
    match error {
        ServiceError::Validation(errors) => validation_problem(&errors),
        ServiceError::Pricing(error @ PricingError::Overflow(_)) => {
            Problem::new(ProblemKind::AmountTooLarge, error.to_string())
        }
        ServiceError::Pricing(error @ PricingError::Unsettled) => {
            tracing::error!(%error, "an order was priced unsettled");
            Problem::internal()
        }
        ServiceError::NotFound => Problem::not_found("no order with this id"),
        ServiceError::Fulfillment(error) => fulfillment_problem(&error),
        ServiceError::Return(error) => return_problem(&error),
        error @ ServiceError::TooManyPayments { .. } => {
            Problem::new(ProblemKind::PaymentState, error.to_string())
        }
        ServiceError::Shipped => {
            Problem::new(ProblemKind::OrderShipped, ServiceError::Shipped.to_string())
        }
        ServiceError::KeyNotFound => Problem::not_found("no API key with this id"),
        ServiceError::ProductNotFound => Problem::not_found("no product with this id"),
        ServiceError::CodeNotFound => Problem::not_found("no discount code with this id"),
        ServiceError::WebhookNotFound => {
            Problem::not_found("no webhook endpoint (or delivery of it) with this id")
        }
        ServiceError::Endpoint(error) => Problem::invalid_field(error.field, error.message),
        ServiceError::DeliveryInProgress { until } => delivery_in_progress(until),
        error @ (ServiceError::SkuTaken { .. }
        | ServiceError::TooManyProducts { .. }
        | ServiceError::CatalogChanged
        | ServiceError::CodeTaken { .. }
        | ServiceError::CodeUsedUp { .. }
        | ServiceError::SetByShop(_)) => price_book_problem(error),
        ServiceError::KeyInput(error) => {
            let field = match error {
                KeyInputError::Name => "name",
                KeyInputError::NoScope | KeyInputError::UnknownScope(_) => "scopes",
            };
            Problem::invalid_field(field, error.to_string())
        }
        ServiceError::Forbidden(why) => Problem::new(ProblemKind::Forbidden, why),
        ServiceError::Detail(refusal) => match refusal {
            DetailRefusal::NotTheirs { field } => Problem::invalid_field(
                field,
                "may not be set or changed by this caller (docs/access.md lists who may)",
            ),
            DetailRefusal::NoLonger { field, status } => {
                let mut problem = Problem::new(ProblemKind::DetailLocked, refusal.to_string())
                    .with_errors(vec![FieldProblem {
                        field: field.to_owned(),
                        message: format!("can no longer be changed: the order is {status}"),
                    }]);
                problem.current_status = Some(status.to_string());
                problem
            }
        },
        ServiceError::Payment(error) => payment_problem(&error),
        ServiceError::Stale { current } => {
            let mut problem = Problem::new(
                ProblemKind::StaleVersion,
                format!(
                    "If-Match does not match the current ETag {}: read it again (send the ETag as the header gives it, quotes included)",
                    etag(current)
                ),
            );
            problem.current_etag = Some(etag(current));
            problem
        }
        ServiceError::IllegalTransition(error) => {
            let mut problem = Problem::new(ProblemKind::IllegalTransition, error.to_string());
            problem.current_status = Some(error.from.to_string());
            problem.allowed_next = Some(error.allowed.iter().map(ToString::to_string).collect());
            problem
        }
        ServiceError::UnsupportedTarget(status) => Problem::new(
            ProblemKind::UnsupportedTransition,
            format!("use POST /v1/orders/{{id}}/cancel to move an order to {status}"),
        ),
        ServiceError::PaymentDeclined { order_id } => payment_declined(order_id),
        ServiceError::PaymentUnavailable => Problem::new(
            ProblemKind::PaymentUnavailable,
            "the gateway did not answer in time; the order shows the payment call in progress \
             and ordo settles it by itself, never moving money twice: read the order for the \
             outcome",
        )
        .retry_after(RETRY_AFTER_SECONDS),
        ServiceError::KeyInFlight => Problem::new(
            ProblemKind::IdempotencyKeyInUse,
            "another request with this Idempotency-Key has not finished; retry shortly",
        )
        .retry_after(RETRY_AFTER_SECONDS),
        ServiceError::KeyReused => Problem::new(
            ProblemKind::IdempotencyKeyReused,
            "an Idempotency-Key names one request: use a new key for a different one",
        ),
        ServiceError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "storage unavailable");
            Problem::new(
                ProblemKind::Unavailable,
                "the order store cannot be reached right now; retry shortly",
            )
            .retry_after(RETRY_AFTER_SECONDS)
        }
        ServiceError::Internal(cause) | ServiceError::Misconfigured(cause) => {
            tracing::error!(error = %error_chain(&*cause), "internal error");
            Problem::internal()
        }
    }
}

/// 409: a webhook delivery a sender holds until `until` is not sent again meanwhile.
fn delivery_in_progress(until: chrono::DateTime<chrono::Utc>) -> Problem {
    Problem::new(
        ProblemKind::DeliveryInProgress,
        format!(
            "a sender is delivering it right now (its lease runs until {}): send it again once \
             that attempt shows in the delivery log",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    )
    // Not the request's final answer: a retry with the same Idempotency-Key runs again.
    .retry_after(RETRY_AFTER_SECONDS)
}

/// 422: a bulk upsert past its size, naming `products`.
pub(crate) fn too_many_products(max: usize) -> Problem {
    let message = format!("one request carries at most {max} products: send the rest in another");
    Problem::new(ProblemKind::TooManyProducts, message.clone()).with_errors(vec![FieldProblem {
        field: "products".to_owned(),
        message,
    }])
}

/// The price book's refusals: a SKU taken, a batch too large, figures only the shop sets.
fn price_book_problem(error: ServiceError) -> Problem {
    match error {
        ServiceError::SkuTaken { sku } => Problem::new(
            ProblemKind::SkuTaken,
            format!("another product has the SKU {sku}"),
        )
        .with_errors(vec![FieldProblem {
            field: "sku".to_owned(),
            message: "another product has this SKU".to_owned(),
        }]),
        ServiceError::TooManyProducts { max } => too_many_products(max),
        ServiceError::CodeTaken { code } => Problem::new(
            ProblemKind::CodeTaken,
            format!("another discount code is named {code}"),
        )
        .with_errors(vec![FieldProblem {
            field: "code".to_owned(),
            message: "another discount code has this name".to_owned(),
        }]),
        ServiceError::CodeUsedUp { per_customer } => {
            let message = if per_customer {
                "this customer has used this discount code as often as it may"
            } else {
                "this discount code has been used as often as it may be"
            };
            Problem::new(
                ProblemKind::CodeUsedUp,
                format!(
                    "{message}; nothing was placed (send `discount_code_optional: true` to place \
                     orders without it when it cannot be used)"
                ),
            )
            .with_errors(vec![FieldProblem {
                field: "discount_code".to_owned(),
                message: message.to_owned(),
            }])
        }
        ServiceError::CatalogChanged => Problem::new(
            ProblemKind::CatalogChanged,
            "another write added or changed one of these products meanwhile; nothing was \
             stored: send the batch again",
        ),
        ServiceError::SetByShop(fields) => {
            let message = "is set by the shop: a customer's order is priced from the price book \
                           (docs/access.md)";
            let detail = match fields.as_slice() {
                [one] => format!("{one} {message}"),
                many => format!(
                    "{} fields are set by the shop, not the customer",
                    many.len()
                ),
            };
            Problem::new(ProblemKind::SetByShop, detail).with_errors(
                fields
                    .into_iter()
                    .map(|field| FieldProblem {
                        field,
                        message: message.to_owned(),
                    })
                    .collect(),
            )
        }
        other => {
            tracing::error!(error = %other, "internal error: not a price book error");
            Problem::internal()
        }
    }
}

/// Every broken rule, each with its field.
impl From<ordo_domain::ValidationErrors> for Problem {
    fn from(errors: ordo_domain::ValidationErrors) -> Self {
        validation_problem(&errors)
    }
}

fn validation_problem(errors: &ordo_domain::ValidationErrors) -> Problem {
    let fields: Vec<FieldProblem> = errors
        .errors()
        .iter()
        .map(|e| FieldProblem {
            field: e.field.clone(),
            message: e.violation.to_string(),
        })
        .collect();
    let detail = match fields.as_slice() {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("{} fields are invalid", many.len()),
    };
    Problem::new(ProblemKind::Validation, detail).with_errors(fields)
}

/// A payment move the order's payment state does not allow.
fn payment_problem(error: &PaymentError) -> Problem {
    match error {
        PaymentError::InFlight { .. } => {
            Problem::new(ProblemKind::PaymentInProgress, error.to_string())
                .retry_after(RETRY_AFTER_SECONDS)
        }
        PaymentError::NothingPending => {
            tracing::error!(error = %error, "internal error");
            Problem::internal()
        }
        PaymentError::WrongStatus { .. } => {
            Problem::new(ProblemKind::PaymentState, error.to_string())
        }
        PaymentError::ExceedsCaptured { .. }
        | PaymentError::NotPositive
        | PaymentError::TooPrecise { .. } => Problem::invalid_field("amount", error.to_string()),
    }
}

/// The gateway declined: 402, naming the order (it is stored, its payment failed).
fn payment_declined(order_id: ordo_domain::OrderId) -> Problem {
    let mut problem = Problem::new(
        ProblemKind::PaymentDeclined,
        format!("the payment gateway declined the payment for order {order_id}"),
    );
    problem.order_id = Some(order_id.to_string());
    problem
}

/// The error and all its sources on one line, as ordo logs them.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

/// A fulfilment the order's status or the fulfilment's state does not allow (409), with the
/// states it may move to where that helps.
fn fulfillment_problem(error: &FulfillmentError) -> Problem {
    if *error == FulfillmentError::NotFound {
        return Problem::not_found("the order has no fulfillment with this id");
    }
    let mut problem = Problem::new(ProblemKind::FulfillmentState, error.to_string());
    match error {
        FulfillmentError::OrderStatus { status } => {
            problem.current_status = Some(status.to_string());
        }
        FulfillmentError::IllegalMove { from, allowed, .. } => {
            problem.current_status = Some(from.to_string());
            problem.allowed_next = Some(allowed.iter().map(ToString::to_string).collect());
        }
        FulfillmentError::Invalid(_)
        | FulfillmentError::Payment(_)
        | FulfillmentError::Money(_)
        | FulfillmentError::TooMany { .. }
        | FulfillmentError::NotFound
        | FulfillmentError::OrderCompleted => {}
    }
    problem
}

/// A return the order's status or the return's state does not allow (409).
fn return_problem(error: &ordo_domain::ReturnError) -> Problem {
    use ordo_domain::ReturnError;
    let mut problem = match error {
        ReturnError::NotFound => return Problem::not_found("the order has no return with this id"),
        _ => Problem::new(ProblemKind::ReturnState, error.to_string()),
    };
    match error {
        ReturnError::OrderStatus { status } => problem.current_status = Some(status.to_string()),
        ReturnError::IllegalMove { from, .. } => problem.current_status = Some(from.to_string()),
        _ => {}
    }
    problem
}
