//! `ordo products …`: the price book on a running server.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use reqwest::{Method, header};

use super::{Call, ClientArgs, Server, body, print};

/// Price book commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ProductsCommand {
    /// Add or change many products by SKU, all or none: one product (as `POST /v1/products`
    /// takes it) per line of an NDJSON file, or stdin when no file is given; up to 1,000.
    Import {
        /// The products, one JSON object per line.
        file: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the price book, in SKU order.
    List {
        /// Only `active` or `archived` products.
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
}

impl ProductsCommand {
    /// The command's client settings.
    pub(crate) fn client(&self) -> &ClientArgs {
        match self {
            Self::Import { client, .. } | Self::List { client, .. } => client,
        }
    }
}

/// Runs a price book command against `server`.
pub(crate) async fn run(
    command: ProductsCommand,
    client: &ClientArgs,
    server: &Server,
) -> Result<()> {
    let http = super::http_client()?;
    let call = Call {
        http: &http,
        client,
        server,
    };
    match command {
        ProductsCommand::Import { file, .. } => {
            let lines = super::read_input(file.as_ref(), "products")?;
            let response = call
                .send(Method::POST, "/v1/products/bulk", |request| {
                    request
                        .header(header::CONTENT_TYPE, "application/x-ndjson")
                        .body(lines)
                })
                .await?;
            print::imported(client.json, &body(response).await?);
        }
        ProductsCommand::List {
            status,
            limit,
            cursor,
            ..
        } => {
            let mut query = Vec::new();
            query.extend(status.map(|s| ("status", s)));
            query.extend(limit.map(|l| ("limit", l.to_string())));
            query.extend(cursor.map(|c| ("cursor", c)));
            let response = call
                .send(Method::GET, "/v1/products", |r| r.query(&query))
                .await
                .context("cannot list the price book")?;
            print::products(client.json, &body(response).await?);
        }
    }
    Ok(())
}
