//! `ordo seed`: fills an empty database (or, with `--force`, adds to one) with realistic orders, for demos and benchmarks.
//!
//! The data is deterministic, so a load generator can name existing rows without reading them
//! back: order `n` (from 1) has id `01900000-0000-7000-8000-{n:012x}` and belongs to customer
//! `00000000-0000-4000-8000-{c:012x}` with `c = (n - 1) % customers + 1`; it has `1 + n % 5`
//! items, each with a SKU and title. The price book gets the six products the lines name (ids
//! `00000000-0000-4000-a000-{k:012x}`, priced in USD, EUR and JPY), unless it holds their SKUs. Each customer has a name, an email, a phone and an
//! address (in one of eight cities of six countries) on all its orders; orders carry a channel,
//! a shipping line on two in three, tags on some (`vip` every 7th, `gift` every 11th,
//! `wholesale` every 13th, `fragile` every 17th) and an ERP id in the metadata of every 4th. Orders go through the domain's pricing and numbering and the repository's own insert,
//! so every row reads back exactly as one placed through the API would (pending, its payment authorized).
#![allow(
    clippy::disallowed_types,
    reason = "the code serde derives for `flatten` names floats; no setting is one"
)]

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result, bail};
use chrono::{Duration, SubsecRound as _};
use clap::Args;
use ordo_domain::{
    AddressDraft, BillingAddressDraft, ContactDraft, CustomerId, GatewayOutcome, LineItemDraft,
    LineSnapshotDraft, NewOrder, Order, OrderDetailsDraft, OrderDraft, OrderId, OrderNumber,
    OrderNumberKey, ProductDraft, ProductId, ProductSpec, ProductStatus, RoundingPolicy,
    SameAsShipping, ShippingLineDraft, Sku, price,
};
use ordo_repository::{OrderRepository, ProductStore, ProductWrite, RepoError};
use ordo_service::{Clock as _, SystemClock};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret as _, SecretBox};

use crate::storage::{StorageArgs, Store};

/// A seed order's `order.placed` event, by `ordo seed` itself; its id follows from the
/// order's, so seeding stays deterministic.
fn placed(order: &Order) -> Result<ordo_domain::EventRecord> {
    use ordo_service::OrderRenderer as _;
    let payload = ordo_http::ApiRenderer
        .render(order)
        .map_err(|error| anyhow::anyhow!("cannot render seed order: {error}"))?;
    let seed = ordo_domain::sha256(order.id().as_uuid().as_bytes());
    let random: [u8; 10] = seed.first_chunk().copied().unwrap_or_default();
    let millis = u64::try_from(order.created_at().timestamp_millis()).unwrap_or(0);
    Ok(ordo_domain::EventRecord::new(
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid(),
        ordo_domain::EventKind::OrderPlaced,
        order.id(),
        order.customer_id(),
        order.version(),
        ordo_domain::Actor::system("seed"),
        order.created_at(),
        payload,
    ))
}

/// What to seed.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub(crate) struct SeedArgs {
    /// How many orders (a demo's worth by default; `cargo xtask bench` asks for 100,000).
    #[arg(long, default_value_t = 1_000)]
    orders: u64,
    /// Over how many customers.
    #[arg(long, default_value_t = 100)]
    customers: u64,
    /// Inserts running at once.
    #[arg(long, default_value_t = 8)]
    concurrency: u64,
    /// Seed a database that is not empty: the seed's orders already there are kept, the rest
    /// added.
    #[arg(long)]
    #[serde(default)]
    force: bool,
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
    let c = n.saturating_sub(1) % customers.max(1) + 1;
    let customer = customer_id(c)?;
    let items = (0..=n % 5)
        .map(|k| {
            let product = uuid::Uuid::parse_str(&format!("00000000-0000-4000-9000-{k:012x}"))?;
            Ok(LineItemDraft {
                snapshot: line_snapshot(n, k),
                product_id: Some(
                    ProductId::from_uuid(product)
                        .map_err(|error| anyhow::anyhow!("seed product: {error}"))?,
                ),
                quantity: i64::try_from(1 + (n + k) % 3)?,
                // 1.00 to 50.99.
                unit_price: Some(Decimal::new(
                    i64::try_from(100 + (n * 7 + k * 13) % 5000)?,
                    2,
                )),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Two orders in three ship at a price; the rest are collected.
    let shipping = if n.is_multiple_of(3) {
        Vec::new()
    } else {
        vec![ShippingLineDraft {
            code: "standard".to_owned(),
            title: "Standard (3–5 days)".to_owned(),
            amount: Decimal::new(495, 2),
            taxed: true,
        }]
    };
    let draft = OrderDraft {
        details: details(n, c),
        customer_id: customer,
        currency: "USD".to_owned(),
        items,
        discount: None,
        discount_code: None,
        discount_code_optional: false,
        tax_rate: Some(Decimal::new(8, 2)),
        shipping,
        shipping_method: None,
        discount_reason: None,
    };
    let new =
        NewOrder::parse(&draft).map_err(|error| anyhow::anyhow!("seed order {n}: {error}"))?;
    let pricing = price(&new, RoundingPolicy::default_for(new.currency()))
        .map_err(|error| anyhow::anyhow!("seed order {n}: {error}"))?;
    let minutes = i64::try_from(n).unwrap_or(i64::MAX);
    let placed = (now - Duration::days(200) + Duration::minutes(minutes)).trunc_subsecs(6);
    let number = OrderNumber::from_sequence(sequence, placed.date_naive(), key)
        .map_err(|error| anyhow::anyhow!("seed order {n}: {error}"))?;
    let mut order = Order::place(
        order_id(n)?,
        number,
        customer,
        pricing,
        new.details().clone(),
        placed,
    );
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

const FIRST_NAMES: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Radia",
    "Dennis",
    "Frances",
    "John",
    "Hedy",
    "Tim",
    "Katherine",
    "Linus",
];
const LAST_NAMES: [&str; 16] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Perlman",
    "Ritchie",
    "Allen",
    "McCarthy",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Torvalds",
];
/// `(city, region, postal code, country)`.
const PLACES: [(&str, &str, &str, &str); 8] = [
    ("San Francisco", "CA", "94105", "US"),
    ("New York", "NY", "10001", "US"),
    ("Berlin", "Berlin", "10115", "DE"),
    ("München", "Bayern", "80331", "DE"),
    ("London", "England", "N1 9GU", "GB"),
    ("Paris", "Île-de-France", "75002", "FR"),
    ("Tokyo", "Tokyo", "150-0002", "JP"),
    ("Toronto", "ON", "M5V 2T6", "CA"),
];
const STREETS: [&str; 6] = [
    "Market St",
    "Hauptstraße",
    "Baker Street",
    "Rue de Rivoli",
    "Queen St W",
    "Broadway",
];
/// A seeded product: `(sku, title, options, requires shipping)`.
type Product = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    bool,
);
/// Each seeded product's price of one in USD, EUR and JPY, in the order of [`PRODUCTS`]. The
/// first three are what `bench/wrk/create-sku.lua` orders: the figures of `create.lua`'s
/// lines, so both creates charge the same.
const PRICES: [(&str, &str, &str); 6] = [
    ("19.99", "18.50", "2900"),
    ("5.00", "4.50", "700"),
    ("12.50", "11.90", "1800"),
    ("25.00", "25.00", "3600"),
    ("14.00", "13.00", "2000"),
    ("39.95", "37.00", "5800"),
];
/// The six seeded products.
const PRODUCTS: [Product; 6] = [
    (
        "TS-BLUE-L",
        "T-shirt",
        &[("colour", "blue"), ("size", "L")],
        true,
    ),
    ("MUG-01", "Mug", &[], true),
    ("SOCK-3", "Socks, three pairs", &[("size", "M")], true),
    ("GIFT-25", "Gift card", &[], false),
    ("CAP-RED", "Cap", &[("colour", "red")], true),
    ("BOOK-RUST", "The Book", &[("format", "hardcover")], true),
];
const CHANNELS: [&str; 5] = ["web", "web", "pos", "marketplace", "phone"];

/// Line `k` of order `n`: the product's snapshot as bought.
fn line_snapshot(n: u64, k: u64) -> LineSnapshotDraft {
    let (sku, title, options, ships) = pick(&PRODUCTS, n.wrapping_add(k));
    LineSnapshotDraft {
        sku: Some(sku.to_owned()),
        title: Some(title.to_owned()),
        options: options
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        requires_shipping: Some(ships),
    }
}

/// The details of order `n` of customer `c`: the customer's contact and address (the same on
/// each of its orders), a channel, some tags, an ERP id on some, a note on a few.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "small bounded numbers: n and c are far below u64::MAX / 100"
)]
fn details(n: u64, c: u64) -> OrderDetailsDraft {
    let first = pick(&FIRST_NAMES, c);
    let last = pick(&LAST_NAMES, c / 16);
    let name = format!("{first} {last}");
    let (city, region, postal_code, country) = pick(&PLACES, c / 7);
    let mut tags = Vec::new();
    for (every, tag) in [(7, "vip"), (11, "gift"), (13, "wholesale"), (17, "fragile")] {
        if n.is_multiple_of(every) {
            tags.push(tag.to_owned());
        }
    }
    let metadata = if n.is_multiple_of(4) {
        [("erp_id".to_owned(), format!("SO-{n:07}"))].into()
    } else {
        std::collections::BTreeMap::new()
    };
    OrderDetailsDraft {
        contact: Some(ContactDraft {
            email: format!(
                "{}.{}{c}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            phone: Some(format!("+1415555{:04}", c % 10_000)),
            name: Some(name.clone()),
        }),
        shipping_address: Some(AddressDraft {
            name: Some(name),
            company: None,
            line1: format!("{} {}", c % 200 + 1, pick(&STREETS, c)),
            line2: c.is_multiple_of(3).then(|| format!("Apt {}", c % 40 + 1)),
            city: city.to_owned(),
            region: Some(region.to_owned()),
            postal_code: Some(postal_code.to_owned()),
            country: country.to_owned(),
            phone: None,
        }),
        billing_address: Some(BillingAddressDraft::SameAsShipping(
            SameAsShipping::SameAsShipping,
        )),
        customer_note: n
            .is_multiple_of(19)
            .then(|| "Please leave it with the neighbours.".to_owned()),
        staff_note: None,
        tags,
        metadata,
        channel: Some(pick(&CHANNELS, n).to_owned()),
    }
}

/// Entry `i` of `list`, cycling.
fn pick<T: Copy, const N: usize>(list: &[T; N], i: u64) -> T {
    let len = u64::try_from(N).unwrap_or(u64::MAX).max(1);
    let index = usize::try_from(i.checked_rem(len).unwrap_or(0)).unwrap_or(0);
    list.get(index).copied().unwrap_or(list[0])
}

/// Inserts the orders, `concurrency` at a time, showing progress on stderr, then says what
/// it made and how to act as one of its customers. Refuses a database that is not empty
/// unless `--force`.
pub(crate) async fn run(args: &SeedArgs) -> Result<()> {
    if args.customers == 0 || args.orders == 0 || args.concurrency == 0 {
        bail!("--orders, --customers and --concurrency must be at least 1");
    }
    let store = Store::open(&args.storage).await?;
    store.migrate().await?;
    let target = store.describe(&args.storage);
    let repository: Arc<dyn OrderRepository> = store.repository();
    // Every order ever placed drew a number from the sequence, so only a database nobody
    // placed an order in hands out its first value. (The draw takes a block of values the
    // inserts below then use: at most this one number is skipped.)
    let first = repository
        .next_order_sequence()
        .await
        .with_context(|| format!("cannot read the order-number sequence of {target}"))?;
    if first != 1 && !args.force {
        bail!(
            "{target} is not empty (orders were placed in it before): seed an empty database, or pass --force to add the seed's orders (those already there are kept)"
        );
    }
    let stocked = stock_book(&*store.products(), SystemClock.now())
        .await
        .with_context(|| format!("cannot stock the price book of {target}"))?;
    let key = args
        .order_number_key
        .as_ref()
        .map_or(OrderNumberKey::DEFAULT, |key| {
            OrderNumberKey::new(*key.expose_secret())
        });
    let now = SystemClock.now();
    let started = std::time::Instant::now();
    let (added, kept) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        let repository = repository.clone();
        let (added, kept) = (added.clone(), kept.clone());
        let (orders, customers, step, force) =
            (args.orders, args.customers, args.concurrency, args.force);
        workers.spawn(async move {
            let mut n = worker.saturating_add(1);
            while n <= orders {
                if force && already_there(&*repository, n).await? {
                    kept.fetch_add(1, Ordering::Relaxed);
                } else {
                    let sequence = repository.next_order_sequence().await?;
                    let order = order(n, customers, sequence, key, now)?;
                    repository
                        .insert(&order, None, &placed(&order)?)
                        .await
                        .with_context(|| {
                            format!("cannot insert seed order {n}: seed an empty database")
                        })?;
                    added.fetch_add(1, Ordering::Relaxed);
                }
                n = n.saturating_add(step);
            }
            anyhow::Ok(())
        });
    }
    let progress = Progress::start(args.orders, [added.clone(), kept.clone()]);
    let mut outcome = Ok(());
    while let Some(done) = workers.join_next().await {
        if let Err(error) = done.context("a seeding task failed").and_then(|done| done) {
            outcome = Err(error);
            workers.abort_all();
            break;
        }
    }
    progress.finish().await;
    store.close().await;
    outcome?;
    let (added, kept) = (added.load(Ordering::Relaxed), kept.load(Ordering::Relaxed));
    let samples = (1..=args.customers.min(3))
        .map(|c| customer_id(c).map(|id| id.to_string()))
        .collect::<Result<Vec<_>>>()?;
    let storage = if args.storage.database_url.is_some() {
        " (with the server's jwt_secret in ORDO_JWT_SECRET)".to_owned()
    } else {
        format!(" --data-dir {}", args.storage.data_dir.display())
    };
    #[allow(clippy::print_stdout, reason = "the CLI reports to its user")]
    {
        let kept = if kept > 0 {
            format!(" ({kept} were there already)")
        } else {
            String::new()
        };
        println!(
            "seeded {added} orders over {} customers in {:.1?} into {target}{kept}; \
             {stocked} products added to its price book",
            args.customers,
            started.elapsed()
        );
        let more = if args.customers > 3 { ", …" } else { "" };
        println!("customers: {}{more}", samples.join(", "));
        if let Some(customer) = samples.first() {
            println!("act as one: ordo token --role customer --customer {customer}{storage}");
        }
    }
    Ok(())
}

/// Adds the seeded products the book does not hold yet (by SKU); how many were added.
async fn stock_book(book: &dyn ProductStore, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
    let skus = PRODUCTS
        .iter()
        .map(|(sku, ..)| Sku::parse(sku))
        .collect::<Result<Vec<_>, _>>()?;
    let held = book.products_by_sku(&skus).await?;
    let mut writes = Vec::new();
    for (k, ((sku, title, options, ships), (usd, eur, jpy))) in
        (0_u64..).zip(PRODUCTS.iter().zip(PRICES))
    {
        if held
            .iter()
            .any(|product| product.spec().sku().as_str() == *sku)
        {
            continue;
        }
        let draft = ProductDraft {
            sku: (*sku).to_owned(),
            title: (*title).to_owned(),
            options: options
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            requires_shipping: *ships,
            tax_class: None,
            status: ProductStatus::Active,
            prices: [("USD", usd), ("EUR", eur), ("JPY", jpy)]
                .into_iter()
                .map(|(code, price)| Ok((code.to_owned(), price.parse::<Decimal>()?)))
                .collect::<Result<_>>()?,
        };
        let spec = ProductSpec::parse(&draft)?;
        let id = uuid::Uuid::parse_str(&format!("00000000-0000-4000-a000-{k:012x}"))?;
        let id = ProductId::from_uuid(id).map_err(|error| anyhow::anyhow!("{error}"))?;
        writes.push(ProductWrite::Insert(ordo_domain::Product::new(
            id, spec, now,
        )));
    }
    book.write_products(&writes).await?;
    Ok(writes.len())
}

/// Whether seed order `n` is stored already (a `--force` run over an earlier seed).
async fn already_there(repository: &dyn OrderRepository, n: u64) -> Result<bool> {
    match repository.get(order_id(n)?).await {
        Ok(_) => Ok(true),
        Err(RepoError::NotFound) => Ok(false),
        Err(error) => Err(anyhow::anyhow!(
            "cannot read seed order {n}: {}",
            ordo_http::error_chain(&error)
        )),
    }
}

/// Progress on stderr while seeding: a line rewritten every second on a terminal, else a
/// line every 10 seconds (for logs).
struct Progress {
    task: tokio::task::JoinHandle<()>,
    stop: Arc<tokio::sync::Notify>,
}

impl Progress {
    fn start(total: u64, counters: [Arc<AtomicU64>; 2]) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let every = std::time::Duration::from_secs(if terminal { 1 } else { 10 });
        let stop = Arc::new(tokio::sync::Notify::new());
        let notified = stop.clone();
        let task = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut ticks = tokio::time::interval(every);
            // The first tick is at once: nothing to show yet.
            ticks.tick().await;
            let mut shown = false;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = notified.notified() => break,
                }
                let done: u64 = counters
                    .iter()
                    .map(|counter| counter.load(Ordering::Relaxed))
                    .sum();
                // `total` is at least 1 (checked before seeding).
                let percent = done.saturating_mul(100).checked_div(total).unwrap_or(100);
                let line = format!(
                    "seeding: {done} of {total} orders ({percent}%), {}s",
                    started.elapsed().as_secs()
                );
                #[allow(clippy::print_stderr, reason = "progress for the user")]
                if terminal {
                    eprint!("\r{line}");
                    shown = true;
                } else {
                    eprintln!("{line}");
                }
            }
            #[allow(clippy::print_stderr, reason = "ends the progress line")]
            if shown {
                eprintln!();
            }
        });
        Self { task, stop }
    }

    async fn finish(self) {
        self.stop.notify_one();
        // The task only prints; if it failed there is nothing left to report.
        let _ = self.task.await;
    }
}
