//! Logs and traces: human-readable lines or JSON lines, level by `RUST_LOG`, and, with the
//! `otel` feature and an endpoint, spans exported over OTLP/HTTP.

use std::io::IsTerminal as _;

use anyhow::Result;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum LogFormat {
    /// Lines for people at a terminal.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// Keeps the trace exporter alive; flushes what is left when dropped at shutdown.
#[must_use = "dropping it stops trace export"]
pub(crate) struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(error = %error, "could not flush traces");
        }
    }
}

/// Installs the global subscriber. `otlp_endpoint` is the collector's base URL
/// (`http://collector:4318`); spans go to its `/v1/traces`.
///
/// # Errors
/// An endpoint without the `otel` feature, or an exporter that cannot be built.
/// Refuses an OTLP endpoint this build cannot export to, as [`init`] would.
///
/// # Errors
/// An endpoint without the `otel` feature.
pub(crate) fn check(otlp_endpoint: Option<&str>) -> Result<()> {
    if cfg!(not(feature = "otel")) && otlp_endpoint.is_some() {
        anyhow::bail!(
            "invalid configuration: `otlp_endpoint` is set, but this ordo was built without the `otel` feature (cargo build --features otel)"
        );
    }
    Ok(())
}

pub(crate) fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry> {
    #[cfg(feature = "otel")]
    let (provider, exporting) = match otlp_endpoint {
        Some(endpoint) => {
            let (provider, layer) = otel::layer(endpoint)?;
            (Some(provider), Some(layer))
        }
        None => (None, None),
    };
    #[cfg(not(feature = "otel"))]
    let exporting: Option<tracing_subscriber::layer::Identity> = match otlp_endpoint {
        Some(_) => anyhow::bail!(
            "invalid configuration: `otlp_endpoint` is set, but this ordo was built without the `otel` feature (cargo build --features otel)"
        ),
        None => None,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into files or collectors.
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let lines = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_ansi(ansi).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
    };
    // Tests start the server in-process more than once: the first subscriber stays.
    let _ = tracing_subscriber::registry()
        .with(exporting)
        .with(filter)
        .with(lines)
        .try_init();
    Ok(Telemetry {
        #[cfg(feature = "otel")]
        provider,
    })
}

#[cfg(feature = "otel")]
mod otel {
    use anyhow::{Context as _, Result};
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::Registry;

    /// The tracer provider and a `tracing` layer feeding it.
    pub(super) fn layer(
        endpoint: &str,
    ) -> Result<(
        SdkTracerProvider,
        tracing_opentelemetry::OpenTelemetryLayer<Registry, opentelemetry_sdk::trace::Tracer>,
    )> {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()
            .context("cannot set up the OTLP exporter")?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("ordo").build())
            .build();
        let tracer = provider.tracer("ordo");
        Ok((provider, tracing_opentelemetry::layer().with_tracer(tracer)))
    }
}
