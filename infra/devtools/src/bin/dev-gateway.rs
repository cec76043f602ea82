//! `make dev`: provisions the template's resources in the emulators, seeds
//! the demo tenant, serves the HTTP API on 127.0.0.1:3000 and runs the SQS
//! event sources, until Ctrl-C (or TERM).
//!
//! `PORT` chooses another port (`0`: any free one; `API_URL` in the env file
//! says which), `DEV_ENV_FILE` another file than `.local/dev.env` (the
//! contract fuzz runs beside a `make dev` this way without touching its file).

use std::net::SocketAddr;
use std::sync::Arc;

use devtools::BoxError;
use devtools::clients::LocalClients;
use devtools::gateway::{Functions, Gateway};
use devtools::poller::QueuePoller;
use devtools::provision::provision;
use devtools::seed;
use devtools::template::Template;
use devtools::tokens::DevTokens;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    shared::telemetry::init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;

    let clients = LocalClients::from_env()?;
    let template = Template::load_default()?;
    let stack = provision(&clients, &template, "dev").await?;
    let pdf: Arc<dyn shared::export::PdfRender> = Arc::new(export_pdf::PdfRenderer::new()?);
    let functions = Arc::new(Functions::new(&clients, &template, &stack, None, Some(pdf)).await?);
    let tokens = DevTokens::random();
    let gateway = Arc::new(Gateway::new(
        template.routes(),
        functions.clone(),
        tokens.clone(),
    ));

    for source in template.queue_sources() {
        let queue = stack.queue(&source.queue)?;
        let poller = QueuePoller {
            sqs: clients.sqs.clone(),
            queue_url: queue.url.clone(),
            queue_arn: queue.arn.clone(),
            region: clients.region.clone(),
            function: source.function.clone(),
            batch_size: source.batch_size,
            functions: functions.clone(),
            retry_delay_secs: 5,
        };
        tokio::spawn(poller.run());
    }

    let api_url = format!("http://{addr}");
    let seeded = seed::seed(&functions.store, &tokens, &api_url).await?;
    let posted = seed::post_demo_webhooks(&gateway, &seeded, &api_url).await?;
    let env = seeded.env;
    let env_path = match std::env::var_os("DEV_ENV_FILE") {
        Some(path) => seed::write_env_file_to(&env, std::path::Path::new(&path))?,
        None => seed::write_env_file(&env)?,
    };

    println!("\nLocal stack ready: {api_url}");
    println!(
        "  table {}  ingest queue {}",
        stack.table,
        stack.queue("IngestQueue")?.url
    );
    println!(
        "  demo tenant '{}': {posted} sample webhooks delivered",
        seed::TENANT
    );
    println!("  settings and tokens: {}", env_path.display());
    for (key, value) in &env {
        println!("  {key}={value}");
    }
    println!("\n  curl -H \"Authorization: Bearer $DEV_ADMIN_TOKEN\" {api_url}/contacts");
    println!("Ctrl-C stops everything.\n");

    let mut terminated = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        continue;
                    }
                };
                let gateway = gateway.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let gateway = gateway.clone();
                        async move {
                            let (parts, body) = request.into_parts();
                            let bytes = body.collect().await?.to_bytes();
                            let response = gateway.handle(http::Request::from_parts(parts, bytes)).await;
                            Ok::<_, hyper::Error>(response.map(Full::new))
                        }
                    });
                    if let Err(error) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(%error, "connection closed");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => {
                println!("stopping");
                return Ok(());
            }
            _ = terminated.recv() => {
                println!("stopping (TERM)");
                return Ok(());
            }
        }
    }
}
