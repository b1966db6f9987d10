//! `bpfq serve [--listen ADDR:PORT] PATH...`: publishes the `metric` items of query files to
//! Prometheus over HTTP. Guarantees: every metric compiles and loads before anything is served
//! (else the diagnostic and a non-zero exit); the listening socket is bound, then every
//! capability no walk needs is dropped (before any other thread exists, so all inherit the
//! lowered sets); a scrape runs each loaded query once (a fresh walk, no compile), one run of a
//! query at a time; a run that fails or passes its time budget publishes nothing for its
//! metric, is counted in `bpfq_query_errors_total` and logged, and the others are published.

mod exposition;
mod metrics_files;
mod samples;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bpfq_compiler::codes;
use bpfq_compiler::diagnostic::Diagnostic;
use bpfq_runtime::execute::{Prepared, RunError};

use super::args::Common;
use super::timings::Timings;
use super::{open_kernel_probed, output, run, Failure};
use exposition::{Published, QueryStats};
use metrics_files::CompiledMetric;
use samples::SampleSink;

/// Threads answering requests: scrapes wait for each other only per query.
const HANDLERS: usize = 4;

/// What `bpfq serve` was asked to do.
pub struct ServeArgs<'a> {
    pub paths: &'a [PathBuf],
    pub listen: &'a str,
    /// How long one run of one query may take before it is cut off.
    pub budget: Duration,
}

/// A metric query, loaded, with what bpfq reports about it.
struct Served<'c> {
    metric: &'c CompiledMetric,
    /// Held for a whole run: runs of one query never overlap.
    prepared: Mutex<Prepared<'c>>,
    stats: Mutex<QueryStats>,
}

pub fn serve(args: &ServeArgs<'_>, common: &Common) -> Result<(), Failure> {
    run::refuse_compile_only(common, "check, explain, targets")?;
    let address = listen_address(args.listen)?;
    let files = metrics_files::served_files(args.paths)?;
    let metrics = {
        let kernel = open_kernel_probed(None)?;
        metrics_files::compile_metrics(&files, common, &kernel)?
        // The BTF is unmapped here: compiled queries do not borrow it.
    };
    let options = run::run_options(common);
    let mut timings = Timings::new(false);
    let served = metrics
        .iter()
        .map(|metric| {
            let prepared = Prepared::new(
                &metric.compiled,
                &metric.text,
                options.clone(),
                &mut timings,
            )
            .map_err(output::run_failure)?;
            let stats = QueryStats {
                kernel_grouping: prepared.groups_in_kernel(),
                ..QueryStats::default()
            };
            Ok(Served {
                metric,
                prepared: Mutex::new(prepared),
                stats: Mutex::new(stats),
            })
        })
        .collect::<Result<Vec<Served>, Failure>>()?;
    let listener = TcpListener::bind(address).map_err(|e| listen_failure(address, &e))?;
    let needs: Vec<_> = served
        .iter()
        .flat_map(|s| lock(&s.prepared).walk_needs())
        .collect();
    let kept = bpfq_runtime::caps::keep_only(&needs)
        .map_err(|e| Failure::Refused(Box::new(capabilities_failure(&e))))?;
    let names: Vec<&str> = served
        .iter()
        .map(|s| s.metric.shape.name.as_str())
        .collect();
    output::log(&format!(
        "serving {} on http://{address}/metrics (capabilities kept: {kept:#x})",
        names.join(", ")
    ));
    let server = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| Failure::Runtime(format!("cannot serve on {address}: {e}")))?;
    std::thread::scope(|scope| {
        for _ in 0..HANDLERS {
            scope.spawn(|| answer_requests(&server, &served, args.budget));
        }
    });
    Ok(())
}

/// `bpfq check` of query `name` of `module`, compiled to `compiled`: when it is a `metric`
/// item, the shape `bpfq serve` would publish, or its diagnostic.
pub fn check_metric(
    module: &bpfq_compiler::syntax::ast::Module,
    name: Option<&str>,
    compiled: &bpfq_compiler::pipeline::CompiledQuery,
    sources: &bpfq_compiler::diagnostic::Sources,
) -> Result<(), Failure> {
    match metrics_files::metric_item(module, name) {
        Some(item) => bpfq_compiler::metric::shape(item, compiled)
            .map(|_| ())
            .map_err(|diag| Failure::Compile(Box::new(diag), Box::new(sources.clone()))),
        None => Ok(()),
    }
}

/// `--listen`: an address and port (a name is resolved once, its first address taken).
fn listen_address(text: &str) -> Result<SocketAddr, Failure> {
    let bad = |why: String| {
        Failure::Usage(format!(
            "--listen expects ADDRESS:PORT (e.g. 127.0.0.1:9436), got `{text}`: {why}"
        ))
    };
    let mut addresses = text.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addresses
        .next()
        .ok_or_else(|| bad("it names no address".into()))
}

fn listen_failure(address: SocketAddr, err: &std::io::Error) -> Failure {
    Failure::Refused(Box::new(
        Diagnostic::error(
            codes::SERVE_LISTEN,
            format!("cannot listen on {address}: {err}"),
        )
        .with_note(
            "choose a free port with `--listen ADDRESS:PORT` (ports below 1024 need CAP_NET_BIND_SERVICE)",
        ),
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic in another scrape leaves nothing half-done that a later run reads.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One handler thread: answers requests until the server closes.
fn answer_requests(server: &tiny_http::Server, served: &[Served<'_>], budget: Duration) {
    while let Ok(request) = server.recv() {
        let response = respond(&request, served, budget);
        // A scraper that went away is no concern of the others.
        let _ = request.respond(response);
    }
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn respond(request: &tiny_http::Request, served: &[Served<'_>], budget: Duration) -> Response {
    if *request.method() != tiny_http::Method::Get {
        return text_response(405, "only GET\n");
    }
    let path = request.url().split('?').next().unwrap_or("");
    match path {
        "/metrics" => {
            let accept = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Accept"))
                .map(|h| h.value.as_str());
            scrape(served, budget, exposition::wants_openmetrics(accept))
        }
        "/healthz" => text_response(200, "ok\n"),
        "/" => text_response(200, "bpfq serve: metrics at /metrics, health at /healthz\n"),
        _ => text_response(404, "not found: try /metrics\n"),
    }
}

fn text_response(status: u16, body: &str) -> Response {
    with_type(
        tiny_http::Response::from_string(body).with_status_code(status),
        "text/plain; charset=utf-8",
    )
}

fn with_type(response: Response, content_type: &str) -> Response {
    match tiny_http::Header::from_bytes("Content-Type", content_type) {
        Ok(header) => response.with_header(header),
        Err(()) => response,
    }
}

/// Runs every query once and encodes what they gave.
fn scrape(served: &[Served<'_>], budget: Duration, openmetrics: bool) -> Response {
    let published: Vec<Published> = served
        .iter()
        .map(|query| Published {
            shape: &query.metric.shape,
            series: run_once(query, budget),
        })
        .collect();
    let stats: Vec<(String, QueryStats)> = served
        .iter()
        .map(|query| (query.metric.shape.name.clone(), lock(&query.stats).clone()))
        .collect();
    match exposition::encode(&published, &stats, openmetrics) {
        Ok((body, content_type)) => with_type(tiny_http::Response::from_string(body), content_type),
        Err(_) => text_response(500, "encoding the metrics failed\n"),
    }
}

/// One run of `query` within `budget` (counted from when the run starts, after any run of the
/// same query by another scrape); its series, or `None` when it failed or was cut off.
fn run_once(query: &Served<'_>, budget: Duration) -> Option<Vec<samples::Series>> {
    let prepared = lock(&query.prepared);
    let started = Instant::now();
    let mut sink = SampleSink::new(&query.metric.shape, started + budget);
    let result = prepared.run(&mut sink, &mut Timings::new(false));
    drop(prepared);
    let mut stats = lock(&query.stats);
    stats.last_duration = started.elapsed().as_secs_f64();
    let name = &query.metric.shape.name;
    match result {
        Ok(_) => {
            stats.rows = sink.series.len() as u64;
            Some(sink.series)
        }
        Err(RunError::Write(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            stats.timeouts += 1;
            output::log(&format!(
                "metric {name}: cut off after {:.3}s (budget {:.3}s); nothing published for it",
                stats.last_duration,
                budget.as_secs_f64()
            ));
            None
        }
        Err(e) => {
            stats.failures += 1;
            output::log(&format!("metric {name}: the run failed: {e}"));
            None
        }
    }
}

/// E0928: the capabilities no walk needs could not be dropped (serve then does not serve).
fn capabilities_failure(err: &dyn std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        codes::SERVE_CAPABILITIES,
        format!("cannot drop the capabilities no walk needs: {err}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// capset(2) cannot be made to fail in a test, so the diagnostic is rendered for a stand-in
    /// error.
    #[test]
    fn a_failed_capability_drop_is_e0928() {
        let err = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let text = capabilities_failure(&err).render(&bpfq_compiler::diagnostic::Sources::new());
        insta::assert_snapshot!(text);
    }
}
