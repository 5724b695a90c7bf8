//! `ordo seed`: fills an empty database with realistic orders, for demos and benchmarks.
//!
//! The data is deterministic, so a load generator can name existing rows without reading them
//! back: order `n` (from 1) has id `01900000-0000-7000-8000-{n:012x}` and belongs to customer
//! `00000000-0000-4000-8000-{c:012x}` with `c = (n - 1) % customers + 1`; it has `1 + n % 5`
//! items. Orders go through the domain's pricing and numbering and the repository's own insert,
//! so every row reads back exactly as one placed through the API would (pending, its payment authorized).
#![allow(
    clippy::disallowed_types,
    reason = "the code serde derives for `flatten` names floats; no setting is one"
)]

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use chrono::{Duration, SubsecRound as _};
use clap::Args;
use ordo_domain::{
    CustomerId, GatewayOutcome, LineItemDraft, NewOrder, Order, OrderDraft, OrderId, OrderNumber,
    OrderNumberKey, ProductId, RoundingPolicy, price,
};
use ordo_repository::OrderRepository;
use ordo_service::{Clock as _, SystemClock};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret as _, SecretBox};

use crate::storage::{StorageArgs, Store};

/// What to seed.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub(crate) struct SeedArgs {
    /// How many orders.
    #[arg(long, default_value_t = 100_000)]
    orders: u64,
    /// Over how many customers.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Inserts running at once.
    #[arg(long, default_value_t = 8)]
    concurrency: u64,
    /// The order-number secret the server will use (as `ordo serve`'s setting).
    #[arg(long, env = "ORDO_ORDER_NUMBER_KEY", hide_env_values = true, value_parser = crate::config::secret_number)]
    #[serde(default, serialize_with = "crate::config::expose")]
    order_number_key: Option<SecretBox<u64>>,
    #[command(flatten)]
    #[serde(flatten)]
    storage: StorageArgs,
}

/// The id of seeded order `n`.
pub(crate) fn order_id(n: u64) -> Result<OrderId> {
    let uuid = uuid::Uuid::parse_str(&format!("01900000-0000-7000-8000-{n:012x}"))?;
    OrderId::from_uuid(uuid).map_err(|error| anyhow::anyhow!("seed id {n}: {error}"))
}

fn customer_id(c: u64) -> Result<CustomerId> {
    let uuid = uuid::Uuid::parse_str(&format!("00000000-0000-4000-8000-{c:012x}"))?;
    CustomerId::from_uuid(uuid).map_err(|error| anyhow::anyhow!("seed customer {c}: {error}"))
}

/// Seeded order `n`: one a minute over the 200 days before `now`.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "small bounded numbers: n and k are far below u64::MAX / 13"
)]
fn order(
    n: u64,
    customers: u64,
    sequence: u64,
    key: OrderNumberKey,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Order> {
    let customer = customer_id(n.saturating_sub(1) % customers.max(1) + 1)?;
    let items = (0..=n % 5)
        .map(|k| {
            let product = uuid::Uuid::parse_str(&format!("00000000-0000-4000-9000-{k:012x}"))?;
            Ok(LineItemDraft {
                product_id: ProductId::from_uuid(product)
                    .map_err(|error| anyhow::anyhow!("seed product: {error}"))?,
                quantity: i64::try_from(1 + (n + k) % 3)?,
                // 1.00 to 50.99.
                unit_price: Decimal::new(i64::try_from(100 + (n * 7 + k * 13) % 5000)?, 2),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let draft = OrderDraft {
        customer_id: customer,
        currency: "USD".to_owned(),
        items,
        discount: None,
        tax_rate: Some(Decimal::new(8, 2)),
    };
    let new =
        NewOrder::parse(&draft).map_err(|error| anyhow::anyhow!("seed order {n}: {error}"))?;
    let pricing = price(&new, RoundingPolicy::default_for(new.currency()))
        .map_err(|error| anyhow::anyhow!("seed order {n}: {error}"))?;
    let minutes = i64::try_from(n).unwrap_or(i64::MAX);
    let placed = (now - Duration::days(200) + Duration::minutes(minutes)).trunc_subsecs(6);
    let number = OrderNumber::from_sequence(sequence, placed.date_naive(), key)
        .map_err(|error| anyhow::anyhow!("seed order {n}: {error}"))?;
    let mut order = Order::place(order_id(n)?, number, customer, pricing, placed);
    // As the API leaves an order once its authorization is approved: nothing left claimed
    // for reconciliation to pick up.
    order
        .settle_payment(
            GatewayOutcome::Approved {
                reference: format!("seed_{n}"),
            },
            placed,
        )
        .map_err(|error| anyhow::anyhow!("seed order {n}: {error}"))?;
    Ok(order)
}

/// Inserts the orders, `concurrency` at a time, and reports how long it took.
pub(crate) async fn run(args: &SeedArgs) -> Result<()> {
    if args.customers == 0 || args.orders == 0 || args.concurrency == 0 {
        bail!("--orders, --customers and --concurrency must be at least 1");
    }
    let store = Store::open(&args.storage).await?;
    store.migrate().await?;
    let repository: Arc<dyn OrderRepository> = store.repository();
    let key = args
        .order_number_key
        .as_ref()
        .map_or(OrderNumberKey::DEFAULT, |key| {
            OrderNumberKey::new(*key.expose_secret())
        });
    let now = SystemClock.now();
    let started = std::time::Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        let repository = repository.clone();
        let (orders, customers, step) = (args.orders, args.customers, args.concurrency);
        workers.spawn(async move {
            let mut n = worker.saturating_add(1);
            while n <= orders {
                let sequence = repository.next_order_sequence().await?;
                let order = order(n, customers, sequence, key, now)?;
                repository.insert(&order, None).await.with_context(|| {
                    format!("cannot insert seed order {n}: seed an empty database")
                })?;
                n = n.saturating_add(step);
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done.context("a seeding task failed")??;
    }
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        println!(
            "seeded {} orders over {} customers in {:.1?}",
            args.orders,
            args.customers,
            started.elapsed()
        );
    }
    store.close().await;
    Ok(())
}
