//! `ordo orders …`: a client of a running server, printing tables for people or JSON for
//! scripts.

mod print;
mod products;
mod server;

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::{Method, Response, header};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};

pub(crate) use products::{ProductsCommand, run as run_products};
pub(crate) use server::{Server, ServerProblem};

/// Where the server is, and how to print. Field names are the names in `ordo.toml`; of them the
/// file may hold `server` (and `listen`, `ordo serve`'s, which is the default server).
#[derive(Debug, Args, serde::Serialize, serde::Deserialize)]
pub(crate) struct ClientArgs {
    /// The running ordo server: `host:port` or an http:// URL (https:// needs TLS, which this
    /// build lacks). Default: where `ordo serve` listens with the same settings (`listen` in
    /// ordo.toml or `ORDO_LISTEN`), else 127.0.0.1:8080.
    #[arg(long, env = "ORDO_SERVER", global = true)]
    #[serde(default)]
    pub(crate) server: Option<String>,
    /// Bearer token to send (mint one with `ordo token`).
    #[arg(long, env = "ORDO_TOKEN", hide_env_values = true, global = true)]
    #[serde(default, serialize_with = "crate::config::expose")]
    pub(crate) token: Option<SecretString>,
    /// Print the server's JSON instead of a table; errors too, as one JSON object on stderr
    /// (the server's problem, or `{"error": "…"}`).
    #[arg(long, global = true)]
    #[serde(default)]
    pub(crate) json: bool,
    /// `ordo serve`'s `listen` from the configuration file: the server by default.
    #[arg(skip)]
    #[serde(default)]
    pub(crate) listen: Option<SocketAddr>,
}

/// Where to move an order (cancelling is `ordo orders cancel`, with a reason).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Target {
    /// Start working on it.
    Processing,
    /// It is fulfilled (captures the payment unless captured already).
    Completed,
}

/// What `ordo orders list` filters on: each flag is the list route's parameter of that name.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ListFilters {
    /// Only this customer's orders.
    #[arg(long)]
    customer: Option<String>,
    /// Only this status (pending, processing, completed, cancelled).
    #[arg(long)]
    status: Option<String>,
    /// Only this payment status (`unpaid`, `authorized`, `partially_paid`, `paid`, `partially_refunded`,
    /// `refunded`, `failed`, `unknown`).
    #[arg(long)]
    payment_status: Option<String>,
    /// Only orders this far fulfilled (`unfulfilled`, `partially_fulfilled`, `fulfilled`,
    /// `partially_returned`, `returned`).
    #[arg(long)]
    fulfillment_status: Option<String>,
    /// Only orders paid manually whose payment is overdue.
    #[arg(long)]
    overdue: bool,
    /// Only orders created at or after this instant (RFC 3339).
    #[arg(long)]
    created_after: Option<String>,
    /// Only orders created before this instant (RFC 3339).
    #[arg(long)]
    created_before: Option<String>,
    /// Only orders whose contact has this email (any case).
    #[arg(long)]
    email: Option<String>,
    /// Only orders carrying this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only orders with a line of this SKU.
    #[arg(long)]
    sku: Option<String>,
    /// Only orders from this channel.
    #[arg(long)]
    channel: Option<String>,
    /// Only orders whose total is at least this.
    #[arg(long)]
    total_min: Option<String>,
    /// Only orders whose total is at most this.
    #[arg(long)]
    total_max: Option<String>,
    /// Orders whose number, email or a name contains this text (3 characters or more).
    #[arg(long, short = 'q')]
    search: Option<String>,
}

impl ListFilters {
    /// The query string's pairs.
    fn pairs(self) -> Vec<(&'static str, String)> {
        [
            ("customer_id", self.customer),
            ("status", self.status),
            ("payment_status", self.payment_status),
            ("fulfillment_status", self.fulfillment_status),
            ("overdue", self.overdue.then(|| "true".to_owned())),
            ("created_after", self.created_after),
            ("created_before", self.created_before),
            ("email", self.email),
            ("tag", self.tag),
            ("sku", self.sku),
            ("channel", self.channel),
            ("total_min", self.total_min),
            ("total_max", self.total_max),
            ("q", self.search),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value)))
        .collect()
    }
}

/// Order commands.
#[derive(Debug, Subcommand)]
pub(crate) enum OrdersCommand {
    /// Place an order from a JSON file, or from stdin when no file is given.
    Create {
        /// The order as JSON (see `POST /v1/orders` in /docs).
        file: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Price an order without placing it: the same JSON as `create`, from a file or stdin.
    Preview {
        /// The order as JSON (see `POST /v1/orders/preview` in /docs).
        file: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one order.
    Get {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List and search orders, newest first: every customer's for staff and admins, a
    /// customer's own for a customer token.
    List {
        #[command(flatten)]
        filters: Box<ListFilters>,
        /// Page size, 1 to 100.
        #[arg(long)]
        limit: Option<u32>,
        /// The `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Move an order to processing or completed.
    Transition {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// The new status.
        #[arg(long, value_enum)]
        to: Target,
        /// Move it only at this version (`5`, or its ETag `"5"`); without it, the order's
        /// current version is read first.
        #[arg(long, value_parser = etag)]
        if_match: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Cancel an order, with a reason.
    Cancel {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Cancel only at this version (`5`, or its ETag `"5"`); without it, the order's
        /// current version is read first.
        #[arg(long, value_parser = etag)]
        if_match: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Refund part or all of a paid order: an amount, or by line (`--line 0:1`, each unit at
    /// its exact share of what was charged, and `--shipping 0`).
    Refund {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// How much, in the order's currency (`5.00`).
        #[arg(long, required_unless_present_any = ["lines", "shipping"], conflicts_with_all = ["lines", "shipping"])]
        amount: Option<Decimal>,
        /// A line and how many of its units, `LINE:QUANTITY` (lines from 0, as in the items).
        #[arg(long = "line", value_parser = line_units)]
        lines: Vec<(i64, i64)>,
        /// A shipping line to refund whole, by its place (from 0).
        #[arg(long)]
        shipping: Vec<i64>,
        /// Why, for the records.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Fulfil some units of a processing order's lines: `--line 0:2` is 2 units of the first
    /// line (lines are numbered from 0, as in the order's items). The fulfilment that leaves
    /// nothing to fulfil completes the order.
    Fulfil {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// A line and how many of its units, `LINE:QUANTITY`; once per line.
        #[arg(long = "line", value_parser = line_units, required = true)]
        lines: Vec<(i64, i64)>,
        /// Where it ships from.
        #[arg(long)]
        location: Option<String>,
        #[command(flatten)]
        tracking: TrackingArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Record a payment of an order paid manually (a bank transfer arrived, cash was taken).
    Pay {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// How much, in the order's currency (`50.00`).
        #[arg(long)]
        amount: Decimal,
        /// `bank_transfer`, `cash`, `cheque`, `card_terminal` or `other`.
        #[arg(long)]
        method: String,
        /// The bank's, the receipt's or the cheque's reference.
        #[arg(long)]
        reference: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Record a return of shipped units: `--line 0:1`, a reason (`damaged`, `defective`,
    /// `wrong_item`, `not_as_described`, `size_or_fit`, `unwanted`, `arrived_late`, `other`).
    Return {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// A line and how many of its units, `LINE:QUANTITY`; once per line.
        #[arg(long = "line", value_parser = line_units, required = true)]
        lines: Vec<(i64, i64)>,
        /// Why.
        #[arg(long)]
        reason: String,
        /// In the customer's words (required with `other`).
        #[arg(long)]
        note: Option<String>,
        /// Put the units back into stock when received.
        #[arg(long)]
        restock: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Move a return: received, or closed refunded (its units refunded in the same step) or
    /// rejected.
    ReturnMove {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// The return's id.
        ret: String,
        /// Where it goes.
        #[arg(long, value_enum)]
        to: ReturnTarget,
        /// Refund the shipping lines not yet refunded too (with `--to refunded`).
        #[arg(long)]
        refund_shipping: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Mark a fulfilment shipped (with its tracking), delivered, or cancel it before it ships.
    Fulfillment {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// The fulfilment's id.
        fulfillment: String,
        /// Where it goes.
        #[arg(long, value_enum)]
        to: FulfillmentTarget,
        #[command(flatten)]
        tracking: TrackingArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change an order's contact, addresses, notes, tags or metadata: a JSON Merge Patch
    /// (`{"shipping_address": {"line2": "Flat 4"}}`) from a file, or stdin when no file is
    /// given.
    Patch {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// The patch as JSON (see `PATCH /v1/orders/{id}` in /docs).
        file: Option<PathBuf>,
        /// Change it only at this version (`5`, or its ETag `"5"`); without it, the order's
        /// current version is read first.
        #[arg(long, value_parser = etag)]
        if_match: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete an order (it is kept, but no longer found).
    Delete {
        /// The order's id or its number (`ORD-261122-7KQ3M9AX`).
        id: String,
        /// Delete only at this version (`5`, or its ETag `"5"`).
        #[arg(long, value_parser = etag)]
        if_match: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl OrdersCommand {
    /// The command's client settings.
    pub(crate) fn client(&self) -> &ClientArgs {
        match self {
            Self::Create { client, .. }
            | Self::Preview { client, .. }
            | Self::Get { client, .. }
            | Self::List { client, .. }
            | Self::Transition { client, .. }
            | Self::Cancel { client, .. }
            | Self::Refund { client, .. }
            | Self::Fulfil { client, .. }
            | Self::Fulfillment { client, .. }
            | Self::Return { client, .. }
            | Self::Pay { client, .. }
            | Self::ReturnMove { client, .. }
            | Self::Patch { client, .. }
            | Self::Delete { client, .. } => client,
        }
    }
}

/// A fulfilment's tracking, each part optional.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct TrackingArgs {
    /// Who carries it.
    #[arg(long)]
    carrier: Option<String>,
    /// The carrier's number for it.
    #[arg(long)]
    tracking_number: Option<String>,
    /// Where to follow it (an http or https URL).
    #[arg(long)]
    tracking_url: Option<String>,
}

impl TrackingArgs {
    /// Its parts as fields of a request body.
    fn into_fields(self, body: &mut serde_json::Map<String, Value>) {
        for (name, value) in [
            ("carrier", self.carrier),
            ("tracking_number", self.tracking_number),
            ("tracking_url", self.tracking_url),
        ] {
            if let Some(value) = value {
                body.insert(name.to_owned(), Value::String(value));
            }
        }
    }
}

/// Where `ordo orders fulfillment` moves a fulfilment.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FulfillmentTarget {
    /// Handed to the carrier.
    Shipped,
    /// Delivered.
    Delivered,
    /// Called off before it shipped.
    Cancelled,
}

/// Where `ordo orders return-move` moves a return.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReturnTarget {
    /// The units are back.
    Received,
    /// Closed, its units refunded.
    Refunded,
    /// Closed, refused.
    Rejected,
}

/// `--line` values as a request's `lines`.
fn lines_json(lines: &[(i64, i64)]) -> Value {
    lines
        .iter()
        .map(|(line, quantity)| json!({ "line": line, "quantity": quantity }))
        .collect()
}

/// `--line 0:2`: a line (from 0) and a number of its units.
fn line_units(text: &str) -> Result<(i64, i64), String> {
    let parsed = text.split_once(':').and_then(|(line, quantity)| {
        Some((line.trim().parse().ok()?, quantity.trim().parse().ok()?))
    });
    parsed.ok_or_else(|| format!("expected LINE:QUANTITY, such as 0:2, not {text:?}"))
}

/// `--if-match`: a version (`5`) or its ETag (`"5"`), as the ETag the server compares.
fn etag(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let number = trimmed
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(trimmed);
    match number.parse::<u32>() {
        Ok(version) if version >= 1 => Ok(format!("\"{version}\"")),
        _ => Err(format!(
            "expected an order's version, like 5 (or its ETag \"5\"), not {text:?}"
        )),
    }
}

/// Runs an order command against `server`, with `client` the settings resolved from every
/// layer.
pub(crate) async fn run(
    command: OrdersCommand,
    client: &ClientArgs,
    server: &Server,
) -> Result<()> {
    let http = http_client()?;
    let call = Call {
        http: &http,
        client,
        server,
    };
    let json = client.json;
    match command {
        OrdersCommand::Create { file, .. } => {
            let response = call
                .post("/v1/orders", read_order(file.as_ref())?, None)
                .await?;
            print::order(json, &body(response).await?);
        }
        OrdersCommand::Preview { file, .. } => {
            let path = "/v1/orders/preview";
            let response = call.post(path, read_order(file.as_ref())?, None).await?;
            print::pricing(json, &body(response).await?);
        }
        OrdersCommand::Get { id, .. } => {
            let response = call.send(Method::GET, &read_path(&id), |r| r).await?;
            print::order(json, &body(response).await?);
        }
        OrdersCommand::List {
            filters,
            limit,
            cursor,
            ..
        } => {
            let mut query = filters.pairs();
            query.extend(limit.map(|l| ("limit", l.to_string())));
            query.extend(cursor.map(|c| ("cursor", c)));
            let response = call
                .send(Method::GET, "/v1/orders", |r| r.query(&query))
                .await?;
            print::page(json, &body(response).await?);
        }
        OrdersCommand::Transition {
            id, to, if_match, ..
        } => {
            let path = call.order_path(&id).await?;
            let etag = call.etag(&path, if_match).await?;
            let to = match to {
                Target::Processing => "processing",
                Target::Completed => "completed",
            };
            let request = json!({ "to": to }).to_string();
            let response = call
                .post(&format!("{path}/transitions"), request, Some(&etag))
                .await?;
            print::order(json, &body(response).await?);
        }
        OrdersCommand::Cancel {
            id,
            reason,
            if_match,
            ..
        } => {
            let path = call.order_path(&id).await?;
            let etag = call.etag(&path, if_match).await?;
            let request = json!({ "reason": reason }).to_string();
            let response = call
                .post(&format!("{path}/cancel"), request, Some(&etag))
                .await?;
            print::order(json, &body(response).await?);
        }
        command @ (OrdersCommand::Pay { .. }
        | OrdersCommand::Refund { .. }
        | OrdersCommand::Fulfil { .. }
        | OrdersCommand::Fulfillment { .. }
        | OrdersCommand::Return { .. }
        | OrdersCommand::ReturnMove { .. }) => {
            fulfillment_command(&call, command, json).await?;
        }
        OrdersCommand::Patch {
            id, file, if_match, ..
        } => {
            let changed = call.patch(&id, file.as_ref(), if_match).await?;
            print::order(json, &changed);
        }
        OrdersCommand::Delete { id, if_match, .. } => {
            call.delete(&id, if_match.as_deref()).await?;
            print::result(
                json,
                &json!({ "deleted": id }),
                &format!("deleted order {id}"),
            );
        }
    }
    Ok(())
}

/// What happens after placing: `ordo orders pay`, `refund`, `fulfil`, `fulfillment`, `return`
/// and `return-move`.
async fn fulfillment_command(call: &Call<'_>, command: OrdersCommand, json: bool) -> Result<()> {
    match command {
        OrdersCommand::Pay {
            id,
            amount,
            method,
            reference,
            ..
        } => {
            // Amounts travel as strings, exactly as typed.
            let request = json!({
                "amount": amount.to_string(), "method": method, "reference": reference
            });
            let path = format!("{}/payments", call.order_path(&id).await?);
            let response = call.post(&path, request.to_string(), None).await?;
            print::order(json, &body(response).await?);
        }
        OrdersCommand::Refund {
            id,
            amount,
            lines,
            shipping,
            reason,
            ..
        } => {
            // Amounts travel as strings, exactly as typed.
            let request = match amount {
                Some(amount) => json!({ "amount": amount.to_string(), "reason": reason }),
                None => json!({
                    "lines": lines_json(&lines),
                    "shipping": shipping,
                    "reason": reason,
                }),
            }
            .to_string();
            let path = format!("{}/refunds", call.order_path(&id).await?);
            let response = call.post(&path, request, None).await?;
            print::refund(json, &body(response).await?);
        }
        OrdersCommand::Fulfil {
            id,
            lines,
            location,
            tracking,
            ..
        } => {
            let mut request = serde_json::Map::new();
            request.insert("lines".to_owned(), lines_json(&lines));
            if let Some(location) = location {
                request.insert("location".to_owned(), Value::String(location));
            }
            tracking.into_fields(&mut request);
            let path = format!("{}/fulfillments", call.order_path(&id).await?);
            let response = call
                .post(&path, Value::Object(request).to_string(), None)
                .await?;
            print::fulfillment(json, &body(response).await?);
        }
        OrdersCommand::Fulfillment {
            id,
            fulfillment,
            to,
            tracking,
            ..
        } => {
            let to = match to {
                FulfillmentTarget::Shipped => "shipped",
                FulfillmentTarget::Delivered => "delivered",
                FulfillmentTarget::Cancelled => "cancelled",
            };
            let mut request = serde_json::Map::new();
            request.insert("to".to_owned(), Value::String(to.to_owned()));
            tracking.into_fields(&mut request);
            let escaped: String =
                url::form_urlencoded::byte_serialize(fulfillment.as_bytes()).collect();
            let path = format!(
                "{}/fulfillments/{escaped}/transitions",
                call.order_path(&id).await?
            );
            let response = call
                .post(&path, Value::Object(request).to_string(), None)
                .await?;
            print::fulfillment(json, &body(response).await?);
        }
        command @ (OrdersCommand::Return { .. } | OrdersCommand::ReturnMove { .. }) => {
            return_command(call, command, json).await?;
        }
        _ => {}
    }
    Ok(())
}

/// `ordo orders return` and `ordo orders return-move`.
async fn return_command(call: &Call<'_>, command: OrdersCommand, json: bool) -> Result<()> {
    match command {
        OrdersCommand::Return {
            id,
            lines,
            reason,
            note,
            restock,
            ..
        } => {
            let request = json!({
                "lines": lines_json(&lines),
                "reason": reason,
                "note": note,
                "restock": restock,
            });
            let path = format!("{}/returns", call.order_path(&id).await?);
            let response = call.post(&path, request.to_string(), None).await?;
            print::returned(json, &body(response).await?);
        }
        OrdersCommand::ReturnMove {
            id,
            ret,
            to,
            refund_shipping,
            ..
        } => {
            if refund_shipping && !matches!(to, ReturnTarget::Refunded) {
                anyhow::bail!("--refund-shipping goes with --to refunded");
            }
            let request = match to {
                ReturnTarget::Received => json!({ "to": "received" }),
                ReturnTarget::Refunded => json!({
                    "to": "closed", "outcome": "refunded", "refund_shipping": refund_shipping
                }),
                ReturnTarget::Rejected => json!({ "to": "closed", "outcome": "rejected" }),
            };
            let escaped: String = url::form_urlencoded::byte_serialize(ret.as_bytes()).collect();
            let path = format!(
                "{}/returns/{escaped}/transitions",
                call.order_path(&id).await?
            );
            let response = call.post(&path, request.to_string(), None).await?;
            print::returned(json, &body(response).await?);
        }
        _ => {}
    }
    Ok(())
}

/// The path that reads an order named by its id or its number, escaped as one path segment.
fn read_path(id: &str) -> String {
    let escaped: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    if looks_like_a_number(id) {
        format!("/v1/orders/by-number/{escaped}")
    } else {
        format!("/v1/orders/{escaped}")
    }
}

/// Whether `id` is written as an order number (`ORD-…`, any case) rather than an id.
fn looks_like_a_number(id: &str) -> bool {
    id.get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("ord-"))
}

/// One command's requests: the HTTP client, its settings and the server.
struct Call<'a> {
    http: &'a reqwest::Client,
    client: &'a ClientArgs,
    server: &'a Server,
}

impl Call<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Response> {
        server::send(self.http, self.client, self.server, method, path, build).await
    }

    /// A JSON POST, with an `If-Match` when given.
    async fn post(&self, path: &str, body: String, etag: Option<&str>) -> Result<Response> {
        self.send(Method::POST, path, |request| {
            let request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
            match etag {
                Some(etag) => request.header(header::IF_MATCH, etag),
                None => request,
            }
        })
        .await
    }

    /// The path of an order named by its id or its number: a number is looked up first (a
    /// typo in it is the server's 400, saying so).
    async fn order_path(&self, id: &str) -> Result<String> {
        let path = read_path(id);
        if !looks_like_a_number(id) {
            return Ok(path);
        }
        let order = body(self.send(Method::GET, &path, |r| r).await?).await?;
        let id = order.get("id").and_then(Value::as_str).with_context(|| {
            format!("the server at {} sent an order without an id", self.server)
        })?;
        Ok(read_path(id))
    }

    /// Sends the merge patch in `file` (or stdin) to the order, at `if_match` or its current
    /// version; the changed order.
    async fn patch(
        &self,
        id: &str,
        file: Option<&PathBuf>,
        if_match: Option<String>,
    ) -> Result<Value> {
        let path = self.order_path(id).await?;
        let etag = self.etag(&path, if_match).await?;
        let merge = read_order(file)?;
        let response = self
            .send(Method::PATCH, &path, |request| {
                request
                    .header(header::CONTENT_TYPE, "application/merge-patch+json")
                    .header(header::IF_MATCH, etag)
                    .body(merge)
            })
            .await?;
        body(response).await
    }

    /// Deletes the order, at `if_match` when given.
    async fn delete(&self, id: &str, if_match: Option<&str>) -> Result<()> {
        let path = self.order_path(id).await?;
        self.send(Method::DELETE, &path, |r| match if_match {
            Some(etag) => r.header(header::IF_MATCH, etag),
            None => r,
        })
        .await?;
        Ok(())
    }

    /// The ETag given, or the order's current one.
    async fn etag(&self, path: &str, given: Option<String>) -> Result<String> {
        if let Some(etag) = given {
            return Ok(etag);
        }
        let response = self.send(Method::GET, path, |r| r).await?;
        response
            .headers()
            .get(header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .with_context(|| format!("the server at {} sent no ETag", self.server))
    }
}

fn read_order(file: Option<&PathBuf>) -> Result<String> {
    read_input(file, "order")
}

/// The file's text, or stdin's when no file is given; `what` names it in an error.
fn read_input(file: Option<&PathBuf>, what: &str) -> Result<String> {
    if let Some(path) = file {
        return std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()));
    }
    let mut body = String::new();
    std::io::stdin()
        .read_to_string(&mut body)
        .with_context(|| format!("cannot read the {what} from stdin"))?;
    Ok(body)
}

/// The HTTP client every command uses.
fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client")
}

async fn body(response: Response) -> Result<Value> {
    response
        .json()
        .await
        .context("the server's answer is not JSON")
}

#[cfg(test)]
mod tests {
    use super::etag;

    #[test]
    fn if_match_takes_a_version_or_its_etag() {
        assert_eq!(etag("5").as_deref(), Ok("\"5\""));
        assert_eq!(etag("\"5\"").as_deref(), Ok("\"5\""));
        for bad in ["0", "\"0\"", "five", "W/\"5\"", "\"5", "-1", ""] {
            assert!(etag(bad).is_err(), "{bad}");
        }
    }
}
