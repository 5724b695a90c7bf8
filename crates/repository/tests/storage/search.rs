//! Staff search, on both databases: every filter and pairs of them against an oracle written
//! over the domain's own accessors, paging through a table that grows meanwhile, and search
//! following a changed record and an erasure.

use ordo_repository::testing::event_of;
use std::sync::Arc;

use ordo_domain::{
    BillingAddress, Channel, CustomerId, Email, FulfillmentDraft, FulfillmentId,
    FulfillmentLineDraft, FulfillmentStatus, GatewayOutcome, NewFulfillment, Order, OrderStatus,
    PaymentStatus, Sku, StatusChange, Tag, Version,
};
use ordo_repository::{ListQuery, OrderRepository, PageSize, SearchText, TotalBound};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{at, customer, order_from};

contract!(
    every_filter_and_every_pair_of_filters_finds_exactly_the_matching_orders,
    search_text_matches_numbers_emails_and_names_literally,
    paging_a_filtered_list_while_orders_arrive_neither_skips_nor_repeats,
    search_follows_changed_details_and_forgets_an_erasure,
    a_search_finds_the_whole_text_not_only_its_rarest_word,
    the_overdue_filter_finds_manual_orders_not_paid_by_their_terms,
);

type Store = Arc<dyn OrderRepository>;

/// One order for `customer`, one line per SKU (one line without a snapshot when there are
/// none) at `price` each, with `details`; no tax or discount, so the total is Σ prices.
async fn placed(
    store: &dyn OrderRepository,
    customer: CustomerId,
    seconds: i64,
    price: &str,
    skus: &[&str],
    details: Value,
) -> Order {
    let line = |n: usize, sku: Option<&str>| {
        let mut line = json!({
            "product_id": Uuid::from_u128(0xAA00 + n as u128),
            "quantity": 1,
            "unit_price": price,
        });
        if let Some(sku) = sku {
            line["snapshot"] = json!({"sku": sku, "title": "Thing", "requires_shipping": true});
        }
        line
    };
    let items: Vec<Value> = if skus.is_empty() {
        vec![line(0, None)]
    } else {
        skus.iter()
            .enumerate()
            .map(|(n, sku)| line(n, Some(sku)))
            .collect()
    };
    let draft = serde_json::from_value(json!({
        "customer_id": customer,
        "currency": "EUR",
        "items": items,
        "details": details,
    }))
    .unwrap();
    let order = order_from(store, &draft, at(seconds)).await;
    store.insert(&order, None, &event_of(&order)).await.unwrap();
    order
}

fn address(name: &str) -> Value {
    json!({"name": name, "line1": "1 Main St", "city": "Springfield", "country": "US"})
}

/// Six orders over three customers, each filter matching some and missing others; one moved
/// to processing, one cancelled, one with its payment authorized.
async fn six_orders(store: &Store) -> Vec<Order> {
    let store = &**store;
    let mut orders = vec![
        placed(
            store,
            customer(1),
            0,
            "10.00",
            &["TS-1"],
            json!({
            "contact": {"email": "Ada@Example.com", "name": "Ada Lovelace"},
            "tags": ["vip"], "channel": "web"}),
        )
        .await,
        placed(
            store,
            customer(1),
            10,
            "25.50",
            &["MUG"],
            json!({
            "contact": {"email": "ada@example.com"},
            "shipping_address": address("Charles Babbage"),
            "billing_address": "same_as_shipping",
            "tags": ["gift"], "channel": "pos"}),
        )
        .await,
        placed(
            store,
            customer(2),
            20,
            "99.99",
            &["TS-1", "MUG"],
            json!({
            "contact": {"email": "grace@navy.mil", "name": "Grace Hopper"},
            "shipping_address": address("Grace Hopper"),
            "billing_address": address("US Navy"),
            "customer_note": "ring twice, lovelace fan",
            "tags": ["vip", "wholesale"], "channel": "web"}),
        )
        .await,
        placed(store, customer(2), 30, "5.00", &[], json!({})).await,
        placed(
            store,
            customer(3),
            40,
            "5.00",
            &["TS-10"],
            json!({
            "contact": {"email": "club@example.org", "name": "50% Off_Club"},
            "channel": "phone"}),
        )
        .await,
        placed(
            store,
            customer(3),
            50,
            "10.01",
            &["ts-1"],
            json!({
            "contact": {"email": "other@example.org", "name": "Ada Byron"},
            "tags": ["fragile"], "channel": "web"}),
        )
        .await,
    ];
    rewrite(store, &mut orders[1], &|o| {
        o.change_status(StatusChange::Process, at(100)).unwrap();
    })
    .await;
    rewrite(store, &mut orders[4], &|o| {
        o.change_status(
            StatusChange::Cancel(ordo_domain::CancelReason::parse("changed mind").unwrap()),
            at(100),
        )
        .unwrap();
    })
    .await;
    rewrite(store, &mut orders[2], &|o| {
        o.settle_payment(
            GatewayOutcome::Approved {
                reference: "auth_1".into(),
            },
            at(100),
        )
        .unwrap();
    })
    .await;
    // One unit of its first line fulfilled: partially fulfilled.
    let process = |o: &mut Order| o.change_status(StatusChange::Process, at(110)).unwrap();
    rewrite(store, &mut orders[2], &process).await;
    rewrite(store, &mut orders[2], &fulfil_one).await;
    orders
}

/// `order` changed by `change` and written by compare-and-set with its event.
async fn rewrite(store: &dyn OrderRepository, order: &mut Order, change: &dyn Fn(&mut Order)) {
    let expected = order.version();
    change(order);
    store
        .update(order, expected, &event_of(order))
        .await
        .unwrap();
}

/// One unit of an order's first line, fulfilled.
fn fulfil_one(order: &mut Order) {
    let draft = FulfillmentDraft {
        lines: vec![FulfillmentLineDraft {
            line: 0,
            quantity: 1,
        }],
        ..FulfillmentDraft::default()
    };
    let new = NewFulfillment::parse(&draft).unwrap();
    order
        .fulfil(
            FulfillmentId::from_parts(1, &[2; 10]),
            new,
            ordo_domain::CaptureMode::OnCompletion,
            at(120),
        )
        .unwrap();
}

/// Whether `order` is one `query` asks for, from the domain's accessors: the oracle.
fn matches(order: &Order, query: &ListQuery) -> bool {
    let details = order.details();
    let email = details.contact().map(|contact| contact.email().match_key());
    let names = [
        details
            .contact()
            .and_then(|c| c.name())
            .map(|n| n.as_str().to_owned()),
        details
            .shipping_address()
            .and_then(|a| a.name())
            .map(str::to_owned),
        match details.billing_address() {
            Some(BillingAddress::Address(address)) => address.name().map(str::to_owned),
            _ => None,
        },
    ];
    let searched = [Some(order.number().to_string()), email.clone()]
        .into_iter()
        .chain(names)
        .flatten()
        .collect::<Vec<_>>()
        .join("\u{1f}")
        .to_lowercase();
    let total = order.pricing().total();
    query.customer_id.is_none_or(|c| c == order.customer_id())
        && query.status.is_none_or(|s| s == order.status())
        && query
            .payment_status
            .is_none_or(|s| s == order.payment().status)
        && query
            .fulfillment_status
            .is_none_or(|s| s == order.fulfillment_status())
        && query.created_after.is_none_or(|t| order.created_at() >= t)
        && query.created_before.is_none_or(|t| order.created_at() < t)
        && query
            .email
            .as_ref()
            .is_none_or(|e| email.as_deref() == Some(&*e.match_key()))
        && query
            .tag
            .as_ref()
            .is_none_or(|t| details.tags().contains(t))
        && query.sku.as_ref().is_none_or(|sku| {
            order
                .pricing()
                .lines()
                .iter()
                .any(|line| line.snapshot.as_ref().is_some_and(|s| s.sku() == sku))
        })
        && query
            .channel
            .as_ref()
            .is_none_or(|c| c == details.channel())
        && query.total_min.is_none_or(|b| total >= b.get())
        && query.total_max.is_none_or(|b| total <= b.get())
        && query
            .text
            .as_ref()
            .is_none_or(|t| searched.contains(&t.as_str().to_lowercase()))
}

/// Every page of `query`, `size` at a time.
async fn all_pages(store: &dyn OrderRepository, query: &ListQuery, size: u32) -> Vec<Order> {
    let mut query = ListQuery {
        limit: PageSize::new(u64::from(size)).unwrap(),
        after: None,
        ..query.clone()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list(&query).await.unwrap();
        assert!(page.orders.len() <= size as usize);
        seen.extend(page.orders);
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => return seen,
        }
    }
}

/// The ids of every order `q = text` finds on a first page, newest first.
async fn found_by_text(store: &dyn OrderRepository, text: &str) -> Vec<ordo_domain::OrderId> {
    let query = ListQuery {
        text: Some(SearchText::parse(text).unwrap()),
        ..ListQuery::all()
    };
    ids(&store.list(&query).await.unwrap().orders)
}

fn ids(orders: &[Order]) -> Vec<ordo_domain::OrderId> {
    orders.iter().map(Order::id).collect()
}

/// A change to a query.
type Set = Box<dyn Fn(&mut ListQuery)>;

/// One filter each, as a staff member would send them.
fn single_filters(orders: &[Order]) -> Vec<(&'static str, ListQuery)> {
    let bound = |text: &str| Some(TotalBound::new(text.parse::<Decimal>().unwrap()).unwrap());
    let text = |text: &str| Some(SearchText::parse(text).unwrap());
    let number = orders[3].number().to_string();
    let filters: Vec<(&str, Set)> = vec![
        ("customer", Box::new(|q| q.customer_id = Some(customer(2)))),
        (
            "status",
            Box::new(|q| q.status = Some(OrderStatus::Processing)),
        ),
        (
            "status pending",
            Box::new(|q| q.status = Some(OrderStatus::Pending)),
        ),
        (
            "payment",
            Box::new(|q| q.payment_status = Some(PaymentStatus::Authorized)),
        ),
        (
            "payment unpaid",
            Box::new(|q| q.payment_status = Some(PaymentStatus::Unpaid)),
        ),
        (
            "fulfilment partial",
            Box::new(|q| q.fulfillment_status = Some(FulfillmentStatus::PartiallyFulfilled)),
        ),
        (
            "fulfilment none",
            Box::new(|q| q.fulfillment_status = Some(FulfillmentStatus::Unfulfilled)),
        ),
        ("after", Box::new(|q| q.created_after = Some(at(20)))),
        ("before", Box::new(|q| q.created_before = Some(at(20)))),
        (
            "email",
            Box::new(|q| q.email = Some(Email::parse("ADA@example.COM").unwrap())),
        ),
        (
            "tag",
            Box::new(|q| q.tag = Some(Tag::parse("VIP").unwrap())),
        ),
        (
            "sku",
            Box::new(|q| q.sku = Some(Sku::parse("TS-1").unwrap())),
        ),
        (
            "sku mug",
            Box::new(|q| q.sku = Some(Sku::parse("MUG").unwrap())),
        ),
        (
            "channel",
            Box::new(|q| q.channel = Some(Channel::parse("web").unwrap())),
        ),
        ("total min", Box::new(move |q| q.total_min = bound("10"))),
        ("total max", Box::new(move |q| q.total_max = bound("25.5"))),
        (
            "total max 10",
            Box::new(move |q| q.total_max = bound("10.0000")),
        ),
        ("q name", Box::new(move |q| q.text = text("ADA"))),
        ("q billing", Box::new(move |q| q.text = text("navy"))),
        ("q number", Box::new(move |q| q.text = text(&number))),
    ];
    filters
        .into_iter()
        .map(|(name, set)| {
            let mut query = ListQuery::all();
            set(&mut query);
            (name, query)
        })
        .collect()
}

async fn every_filter_and_every_pair_of_filters_finds_exactly_the_matching_orders(store: Store) {
    let orders = six_orders(&store).await;
    let mut newest_first = orders.clone();
    newest_first.reverse();
    let expect = |query: &ListQuery| -> Vec<_> {
        newest_first
            .iter()
            .filter(|order| matches(order, query))
            .map(Order::id)
            .collect()
    };
    // The oracle itself, on cases worked out by hand.
    let singles = single_filters(&orders);
    let by_name = |name: &str| &singles.iter().find(|(n, _)| *n == name).unwrap().1;
    let o = |i: usize| orders[i].id();
    assert_eq!(expect(by_name("email")), vec![o(1), o(0)]);
    assert_eq!(expect(by_name("fulfilment partial")), vec![o(2)]);
    assert_eq!(expect(by_name("fulfilment none")).len(), 5);
    assert_eq!(expect(by_name("tag")), vec![o(2), o(0)]);
    assert_eq!(
        expect(by_name("sku")),
        vec![o(2), o(0)],
        "exact: not TS-10 nor ts-1"
    );
    assert_eq!(expect(by_name("total max 10")), vec![o(4), o(3), o(0)]);
    assert_eq!(expect(by_name("q name")), vec![o(5), o(1), o(0)]);
    assert_eq!(
        expect(by_name("q billing")),
        vec![o(2)],
        "names and email, not the note"
    );
    assert_eq!(expect(&ListQuery::all()).len(), 6);

    for (name, query) in &singles {
        let expected = expect(query);
        assert_eq!(
            ids(&store.list(query).await.unwrap().orders),
            expected,
            "{name}"
        );
        assert_eq!(
            ids(&all_pages(&*store, query, 1).await),
            expected,
            "{name}, one a page"
        );
    }
    for (i, (first, a)) in singles.iter().enumerate() {
        for (second, b) in &singles[i + 1..] {
            let both = ListQuery {
                customer_id: a.customer_id.or(b.customer_id),
                status: a.status.or(b.status),
                payment_status: a.payment_status.or(b.payment_status),
                fulfillment_status: a.fulfillment_status.or(b.fulfillment_status),
                created_after: a.created_after.or(b.created_after),
                created_before: a.created_before.or(b.created_before),
                email: a.email.clone().or_else(|| b.email.clone()),
                tag: a.tag.clone().or_else(|| b.tag.clone()),
                sku: a.sku.clone().or_else(|| b.sku.clone()),
                channel: a.channel.clone().or_else(|| b.channel.clone()),
                total_min: a.total_min.or(b.total_min),
                total_max: a.total_max.or(b.total_max),
                text: a.text.clone().or_else(|| b.text.clone()),
                ..ListQuery::all()
            };
            assert_eq!(
                ids(&all_pages(&*store, &both, 2).await),
                expect(&both),
                "{first} and {second}"
            );
        }
    }
}

async fn search_text_matches_numbers_emails_and_names_literally(store: Store) {
    let orders = six_orders(&store).await;
    let found = async |text: &str| found_by_text(&*store, text).await;
    let o = |i: usize| orders[i].id();
    assert_eq!(found("lovelace").await, vec![o(0)], "not customer 2's note");
    assert_eq!(
        found("babbage").await,
        vec![o(1)],
        "the shipping address's name"
    );
    assert_eq!(found("EXAMPLE.ORG").await, vec![o(5), o(4)]);
    // `%` and `_` are characters to find, not wildcards.
    assert_eq!(found("50% off_club").await, vec![o(4)]);
    assert_eq!(found("ada%ex").await, vec![]);
    assert_eq!(found("a_a").await, vec![]);
    // Part of a number, in any case.
    let number = orders[3].number().to_string().to_lowercase();
    assert_eq!(found(&number[4..]).await, vec![o(3)]);
    assert_eq!(found("nobody-at-all").await, vec![]);
    // A match never spans two parts (an email's end and a name's start).
    assert_eq!(found("com ada").await, vec![]);
    assert_eq!(found("Ada Lov").await, vec![o(0)]);
}

/// PostgreSQL asks its trigram index for a text's rarest-looking word only (an email's word
/// with digits, an order number's code): orders holding that word but not the whole text are
/// not found, and every order holding the whole text is, in any case.
async fn a_search_finds_the_whole_text_not_only_its_rarest_word(store: Store) {
    let contact = |email: &str| json!({"contact": {"email": email, "name": "Ada Lovelace"}});
    let mut orders = Vec::new();
    for (n, email) in [
        "ada.lovelace1815@example.com",
        "bob.lovelace1815@example.com",
        "ada.lovelace1815@example.org",
        "Ada.Lovelace1815@Example.com",
    ]
    .into_iter()
    .enumerate()
    {
        let customer = CustomerId::from_uuid(Uuid::from_u128(0xC0 + n as u128)).unwrap();
        let seconds = i64::try_from(n).unwrap();
        orders.push(placed(&*store, customer, seconds, "5.00", &[], contact(email)).await);
    }
    let found = async |text: &str| found_by_text(&*store, text).await;
    let o = |i: usize| orders[i].id();
    assert_eq!(
        found("ada.lovelace1815@example.com").await,
        vec![o(3), o(0)]
    );
    assert_eq!(found("bob.lovelace1815@").await, vec![o(1)]);
    assert_eq!(found("lovelace1815@example.org").await, vec![o(2)]);
    assert_eq!(found("lovelace1815@").await, vec![o(3), o(2), o(1), o(0)]);
    assert_eq!(found("x.lovelace1815@").await, vec![]);
    // An order number whose code is its rarest word: the same code under another date is no
    // match.
    let number = orders[1].number().to_string();
    let code = &number[number.len() - 8..];
    assert_eq!(found(&number).await, vec![o(1)]);
    assert_eq!(found(&format!("ORD-991231-{code}")).await, vec![]);
}

async fn paging_a_filtered_list_while_orders_arrive_neither_skips_nor_repeats(store: Store) {
    let vip = || json!({"tags": ["vip"], "contact": {"email": "vip@example.com"}});
    let mut expected = Vec::new();
    for i in 0..20 {
        // Pairs share a creation time, so the id breaks ties; every third one is not a vip.
        let details = if i % 3 == 0 { json!({}) } else { vip() };
        let order = placed(
            &*store,
            customer(1 + i as u128 % 4),
            i / 2,
            "1.00",
            &[],
            details,
        )
        .await;
        if i % 3 != 0 {
            expected.push(order);
        }
    }
    expected.sort_by_key(|order| std::cmp::Reverse((order.created_at(), order.id())));
    let mut query = ListQuery {
        tag: Some(Tag::parse("vip").unwrap()),
        text: Some(SearchText::parse("vip@").unwrap()),
        limit: PageSize::new(3).unwrap(),
        ..ListQuery::all()
    };
    let mut seen = Vec::new();
    let mut arrived = 0;
    loop {
        let page = store.list(&query).await.unwrap();
        seen.extend(page.orders);
        // Orders keep arriving between pages, matching the filters, and at the same instant
        // as the newest ones: none of them belongs to a later page.
        placed(&*store, customer(9), 10 + arrived, "1.00", &[], vip()).await;
        placed(&*store, customer(9), 9, "1.00", &[], vip()).await;
        arrived += 1;
        match page.next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(ids(&seen), ids(&expected));
    assert!(arrived >= 5, "the table grew between pages");
}

async fn search_follows_changed_details_and_forgets_an_erasure(store: Store) {
    let order = placed(
        &*store,
        customer(1),
        0,
        "1.00",
        &["TS-1"],
        json!({
        "contact": {"email": "Ada@Example.com", "name": "Ada Lovelace"},
        "tags": ["vip"]}),
    )
    .await;
    let count = async |query: ListQuery| store.list(&query).await.unwrap().orders.len();
    let tag = |t: &str| ListQuery {
        tag: Some(Tag::parse(t).unwrap()),
        ..ListQuery::all()
    };
    let email = |e: &str| ListQuery {
        email: Some(Email::parse(e).unwrap()),
        ..ListQuery::all()
    };
    let text = |t: &str| ListQuery {
        text: Some(SearchText::parse(t).unwrap()),
        ..ListQuery::all()
    };
    assert_eq!(count(tag("vip")).await, 1);
    assert_eq!(count(text("lovelace")).await, 1);

    let mut draft = order.details().to_draft();
    draft.tags = vec!["returned".into()];
    draft.contact = Some(ordo_domain::ContactDraft {
        email: "grace@example.org".into(),
        phone: None,
        name: Some("Grace Hopper".into()),
    });
    let mut changed = order.clone();
    changed.change_details(ordo_domain::OrderDetails::parse(&draft).unwrap(), at(5));
    store
        .update(&changed, order.version(), &event_of(&changed))
        .await
        .unwrap();
    assert_eq!(count(tag("vip")).await, 0);
    assert_eq!(count(tag("returned")).await, 1);
    assert_eq!(count(email("ada@example.com")).await, 0);
    assert_eq!(count(email("grace@example.org")).await, 1);
    assert_eq!(count(text("lovelace")).await, 0);
    assert_eq!(count(text("hopper")).await, 1);
    assert_eq!(
        count(ListQuery {
            sku: Some(Sku::parse("TS-1").unwrap()),
            ..ListQuery::all()
        })
        .await,
        1,
        "lines stay"
    );

    let mut erased = store.get(order.id()).await.unwrap();
    let expected: Version = erased.version();
    assert!(erased.erase_personal_data(at(10)));
    let erasure = ordo_repository::Erasure {
        id: Uuid::new_v4(),
        customer_id: customer(1),
        by: "admin:ops".into(),
        at: at(10),
        orders: 1,
    };
    store
        .erase_customer(&[(erased.clone(), expected, event_of(&erased))], &erasure)
        .await
        .unwrap();
    assert_eq!(count(email("grace@example.org")).await, 0);
    assert_eq!(count(text("hopper")).await, 0);
    assert_eq!(count(text("grace")).await, 0);
    let number = order.number().to_string();
    assert_eq!(count(text(&number)).await, 1, "the number stays searchable");
}

/// `due_before` (the staff list's `overdue`): manual orders due before the time and not paid in
/// full (unpaid or partially paid); not one paid, cancelled, due later, without terms, or paid
/// through the gateway.
async fn the_overdue_filter_finds_manual_orders_not_paid_by_their_terms(store: Store) {
    let store = &*store;
    let place = async |seconds: i64, due: Option<i64>, manual: bool| {
        let draft = serde_json::from_value(json!({
            "customer_id": customer(1),
            "currency": "EUR",
            "items": [{ "product_id": Uuid::from_u128(0xAA00), "quantity": 1, "unit_price": "10.00" }],
        }))
        .unwrap();
        let mut order = order_from(store, &draft, at(seconds)).await;
        if manual {
            order.pay_manually(due.map(at));
        }
        store.insert(&order, None, &event_of(&order)).await.unwrap();
        order
    };
    let paying = |amount: i64| {
        move |order: &mut Order| {
            let draft = ordo_domain::PaymentDraft {
                amount: Decimal::new(amount, 2),
                method: "bank_transfer".into(),
                reference: None,
                received_at: None,
            };
            order
                .record_payment(Uuid::from_u128(1), &draft, "staff:s", at(150))
                .unwrap();
        }
    };
    let unpaid = place(0, Some(100), true).await;
    let later = place(10, Some(300), true).await;
    let mut part_paid = place(20, Some(100), true).await;
    rewrite(store, &mut part_paid, &paying(400)).await;
    let mut paid = place(30, Some(100), true).await;
    rewrite(store, &mut paid, &paying(1000)).await;
    let mut cancelled = place(40, Some(100), true).await;
    rewrite(store, &mut cancelled, &|o| {
        let reason = ordo_domain::CancelReason::parse("never paid").unwrap();
        o.change_status(StatusChange::Cancel(reason), at(150))
            .unwrap();
    })
    .await;
    let _gateway = place(50, None, false).await;
    let _no_terms = place(60, None, true).await;
    assert_eq!(part_paid.payment().status, PaymentStatus::PartiallyPaid);
    assert_eq!(paid.payment().status, PaymentStatus::Paid);

    let overdue = |before: i64| ListQuery {
        due_before: Some(at(before)),
        ..ListQuery::all()
    };
    assert_eq!(
        ids(&store.list(&overdue(200)).await.unwrap().orders),
        vec![part_paid.id(), unpaid.id()]
    );
    assert_eq!(
        ids(&all_pages(store, &overdue(400), 1).await),
        vec![part_paid.id(), later.id(), unpaid.id()],
        "one a page"
    );
    assert!(
        store.list(&overdue(100)).await.unwrap().orders.is_empty(),
        "due at, not before"
    );
    let both = ListQuery {
        payment_status: Some(PaymentStatus::Unpaid),
        ..overdue(400)
    };
    assert_eq!(
        ids(&store.list(&both).await.unwrap().orders),
        vec![later.id(), unpaid.id()]
    );
}
