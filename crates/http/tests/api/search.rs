//! Finding orders through the real app: staff list every customer's orders by any filter and
//! page through them; a customer's token sees its own orders only, whatever it asks. On both
//! databases.

use ordo_service::Role;
use serde_json::{Value, json};

use crate::app::{TestApp, assert_problem};
use crate::auth::{ALICE, BOB, token};

crate::app::on_both_databases!(
    with ordo_service::ServiceConfig::default(), crate::auth::secured();
    staff_find_orders_by_every_filter_and_page_through_them,
    a_customer_sees_only_its_own_orders_through_every_filter,
);

fn staff() -> String {
    token(Role::Staff, "staff-1")
}

/// An order for `customer` placed by staff, with one line of `sku` at `price`.
fn order(customer: &str, email: &str, name: &str, sku: &str, price: &str, tags: &[&str]) -> Value {
    json!({
        "customer_id": customer,
        "currency": "EUR",
        "items": [{"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 1,
                   "unit_price": price, "sku": sku, "title": "Thing", "requires_shipping": true}],
        "contact": {"email": email, "name": name},
        "tags": tags,
        "channel": if tags.contains(&"vip") { "phone" } else { "web" },
    })
}

impl TestApp {
    /// The order numbers of every page of `GET /v1/orders?{query}`, `limit` at a time.
    async fn numbers(&self, bearer: &str, query: &str, limit: u32) -> Vec<String> {
        let mut numbers = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/v1/orders?{query}&limit={limit}&cursor={cursor}"),
                None => format!("/v1/orders?{query}&limit={limit}"),
            };
            let response = self.get(&path).bearer_auth(bearer).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let page: Value = response.json().await.unwrap();
            for order in page["data"].as_array().unwrap() {
                numbers.push(order["order_number"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return numbers,
            }
        }
    }
}

async fn staff_find_orders_by_every_filter_and_page_through_them(app: TestApp) {
    let staff = staff();
    let mut placed = Vec::new();
    for (customer, email, name, sku, price, tags) in [
        (
            ALICE,
            "Ada@Example.com",
            "Ada Lovelace",
            "TS-1",
            "10.00",
            &["vip"][..],
        ),
        (
            BOB,
            "bob@example.org",
            "Bob Babbage",
            "MUG",
            "25.50",
            &[][..],
        ),
        (
            ALICE,
            "ada@example.com",
            "Ada L.",
            "MUG",
            "99.99",
            &["vip", "gift"][..],
        ),
        (
            BOB,
            "grace@navy.mil",
            "Grace Hopper",
            "TS-10",
            "5.00",
            &["gift"][..],
        ),
    ] {
        let body = order(customer, email, name, sku, price, tags);
        let order = app.place_as(&staff, &body).await;
        placed.push(order["order_number"].as_str().unwrap().to_owned());
    }
    let n =
        |indexes: &[usize]| -> Vec<String> { indexes.iter().map(|&i| placed[i].clone()).collect() };
    for (query, expected) in [
        ("", n(&[3, 2, 1, 0])),
        ("status=pending", n(&[3, 2, 1, 0])),
        ("status=cancelled", vec![]),
        ("payment_status=authorized", n(&[3, 2, 1, 0])),
        ("payment_status=unpaid", vec![]),
        (&*format!("customer_id={ALICE}"), n(&[2, 0])),
        ("email=ADA%40example.COM", n(&[2, 0])),
        ("tag=VIP", n(&[2, 0])),
        ("tag=gift", n(&[3, 2])),
        ("sku=TS-1", n(&[0])),
        ("sku=MUG", n(&[2, 1])),
        ("channel=phone", n(&[2, 0])),
        ("total_min=10&total_max=25.5", n(&[1, 0])),
        ("total_min=25.51", n(&[2])),
        ("q=lovelace", n(&[0])),
        ("q=NAVY", n(&[3])),
        ("q=ada", n(&[2, 0])),
        (&*format!("q={}", &placed[1][4..]), n(&[1])),
        ("tag=gift&q=grace&channel=web", n(&[3])),
        (
            "created_after=2000-01-01T00:00:00Z&created_before=2000-01-02T00:00:00Z",
            vec![],
        ),
    ] {
        for limit in [1, 3, 100] {
            assert_eq!(
                app.numbers(&staff, query, limit).await,
                expected,
                "{query}, {limit} a page"
            );
        }
    }
    // The CLI's and a client's other spelling of a number finds the same order.
    let response = app
        .get(&format!(
            "/v1/orders/by-number/{}",
            placed[2].to_lowercase()
        ))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn a_customer_sees_only_its_own_orders_through_every_filter(app: TestApp) {
    let staff = staff();
    let alice = token(Role::Customer, ALICE);
    let mine = app
        .place_as(
            &staff,
            &order(ALICE, "ada@example.com", "Ada", "TS-1", "10.00", &["vip"]),
        )
        .await;
    let theirs = app
        .place_as(
            &staff,
            &order(
                BOB,
                "bob@example.org",
                "Bob Builder",
                "TS-1",
                "10.00",
                &["vip"],
            ),
        )
        .await;
    let mine = vec![mine["order_number"].as_str().unwrap().to_owned()];
    let bobs = theirs["order_number"].as_str().unwrap();
    for query in [
        "",
        "tag=vip",
        "sku=TS-1",
        "channel=phone",
        "status=pending",
        "total_min=1",
        "payment_status=authorized",
        "q=example",
    ] {
        assert_eq!(app.numbers(&alice, query, 5).await, mine, "{query}");
    }
    for query in [
        "email=bob%40example.org".to_owned(),
        "q=builder".to_owned(),
        format!("q={}", &bobs[4..]),
    ] {
        assert_eq!(
            app.numbers(&alice, &query, 5).await,
            Vec::<String>::new(),
            "{query}"
        );
    }
    let response = app
        .get(&format!("/v1/orders?customer_id={BOB}"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;
    let response = app
        .get(&format!("/v1/orders/by-number/{bobs}"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not-found").await;
}
