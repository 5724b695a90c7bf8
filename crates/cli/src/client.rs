//! `ordo orders …`: a client of a running server, printing tables for people or JSON for
//! scripts.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use comfy_table::Table;
use reqwest::{Method, Response, StatusCode, header};
use serde_json::Value;

/// Where the server is, and how to print.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// Base URL of a running ordo server.
    #[arg(
        long,
        env = "ORDO_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    server: String,
    /// Bearer token to send (mint one with `ordo token`).
    #[arg(long, env = "ORDO_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
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
    /// Show one order.
    Get {
        /// The order's id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List a customer's orders, newest first.
    List {
        /// Whose orders.
        #[arg(long)]
        customer: String,
        /// Only this status (pending, processing, completed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Page size, 1 to 100.
        #[arg(long)]
        limit: Option<u32>,
        /// The `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Cancel an order, with a reason.
    Cancel {
        /// The order's id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Cancel only at this ETag; without it, the order's current ETag is read first.
        #[arg(long)]
        if_match: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete an order (it is kept, but no longer found).
    Delete {
        /// The order's id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub(crate) async fn run(command: OrdersCommand) -> Result<()> {
    let http = reqwest::Client::builder()
        .build()
        .context("cannot build the HTTP client")?;
    match command {
        OrdersCommand::Create { file, client } => {
            let body = read_order(file.as_ref())?;
            let response = send(&http, &client, Method::POST, "/v1/orders", |r| {
                r.header(header::CONTENT_TYPE, "application/json")
                    .body(body)
            })
            .await?;
            print_order(&client, &json(response).await?);
        }
        OrdersCommand::Get { id, client } => {
            let response = send(
                &http,
                &client,
                Method::GET,
                &format!("/v1/orders/{id}"),
                |r| r,
            )
            .await?;
            print_order(&client, &json(response).await?);
        }
        OrdersCommand::List {
            customer,
            status,
            limit,
            cursor,
            client,
        } => {
            let mut query = vec![("customer_id", customer)];
            query.extend(status.map(|s| ("status", s)));
            query.extend(limit.map(|l| ("limit", l.to_string())));
            query.extend(cursor.map(|c| ("cursor", c)));
            let response = send(&http, &client, Method::GET, "/v1/orders", |r| {
                r.query(&query)
            })
            .await?;
            print_page(&client, &json(response).await?);
        }
        OrdersCommand::Cancel {
            id,
            reason,
            if_match,
            client,
        } => {
            let path = format!("/v1/orders/{id}");
            let etag = match if_match {
                Some(etag) => etag,
                None => current_etag(&http, &client, &path).await?,
            };
            let body = serde_json::json!({ "reason": reason }).to_string();
            let response = send(
                &http,
                &client,
                Method::POST,
                &format!("{path}/cancel"),
                |r| {
                    r.header(header::CONTENT_TYPE, "application/json")
                        .header(header::IF_MATCH, &etag)
                        .body(body)
                },
            )
            .await?;
            print_order(&client, &json(response).await?);
        }
        OrdersCommand::Delete { id, client } => {
            send(
                &http,
                &client,
                Method::DELETE,
                &format!("/v1/orders/{id}"),
                |r| r,
            )
            .await?;
            say(&client, &format!("deleted order {id}"));
        }
    }
    Ok(())
}

fn read_order(file: Option<&PathBuf>) -> Result<String> {
    if let Some(path) = file {
        return std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()));
    }
    let mut body = String::new();
    std::io::stdin()
        .read_to_string(&mut body)
        .context("cannot read the order from stdin")?;
    Ok(body)
}

/// Sends a request; a problem answer becomes an error that quotes it.
async fn send(
    http: &reqwest::Client,
    client: &ClientArgs,
    method: Method,
    path: &str,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<Response> {
    let url = format!("{}{path}", client.server.trim_end_matches('/'));
    let mut request = http.request(method, &url);
    if let Some(token) = &client.token {
        request = request.bearer_auth(token);
    }
    let response = build(request)
        .send()
        .await
        .with_context(|| format!("cannot reach the ordo server at {}", client.server))?;
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let problem: Value = response.json().await.unwrap_or(Value::Null);
    bail!("{}", describe_problem(status, &problem))
}

fn describe_problem(status: StatusCode, problem: &Value) -> String {
    let detail = problem
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or("no details");
    let mut text = format!("{status}: {detail}");
    for error in problem
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = error.get("field").and_then(Value::as_str).unwrap_or("?");
        let message = error.get("message").and_then(Value::as_str).unwrap_or("?");
        let _ = write!(text, "\n  {field}: {message}");
    }
    if let Some(allowed) = problem.get("allowed_next").and_then(Value::as_array) {
        let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        let _ = write!(text, "\n  allowed next: {}", allowed.join(", "));
    }
    text
}

async fn current_etag(http: &reqwest::Client, client: &ClientArgs, path: &str) -> Result<String> {
    let response = send(http, client, Method::GET, path, |r| r).await?;
    response
        .headers()
        .get(header::ETAG)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .context("the server sent no ETag")
}

async fn json(response: Response) -> Result<Value> {
    response
        .json()
        .await
        .context("the server's answer is not JSON")
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn say(client: &ClientArgs, line: &str) {
    if !client.json {
        #[allow(clippy::print_stdout, reason = "the CLI prints results on stdout")]
        {
            println!("{line}");
        }
    }
}

fn print_order(client: &ClientArgs, order: &Value) {
    #[allow(clippy::print_stdout, reason = "the CLI prints results on stdout")]
    if client.json {
        println!("{order}");
    } else {
        let mut summary = Table::new();

        for key in [
            "id",
            "order_number",
            "customer_id",
            "status",
            "cancel_reason",
            "currency",
            "subtotal",
            "discount",
            "tax",
            "total",
            "version",
            "created_at",
            "updated_at",
        ] {
            summary.add_row(vec![key.to_owned(), text(order, key)]);
        }
        let mut items = Table::new();
        items.set_header(vec!["product", "quantity", "unit price", "line total"]);
        for item in order
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            items.add_row(vec![
                text(item, "product_id"),
                text(item, "quantity"),
                text(item, "unit_price"),
                text(item, "line_total"),
            ]);
        }
        println!("{summary}\n{items}");
    }
}

fn print_page(client: &ClientArgs, page: &Value) {
    #[allow(clippy::print_stdout, reason = "the CLI prints results on stdout")]
    if client.json {
        println!("{page}");
    } else {
        let mut table = Table::new();
        table.set_header(vec!["id", "number", "status", "total", "created"]);
        for order in page
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let total = format!("{} {}", text(order, "total"), text(order, "currency"));
            table.add_row(vec![
                text(order, "id"),
                text(order, "order_number"),
                text(order, "status"),
                total,
                text(order, "created_at"),
            ]);
        }
        println!("{table}");
        if let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) {
            println!("more: --cursor {cursor}");
        }
    }
}
