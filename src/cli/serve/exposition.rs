//! `bpfq serve`, a scrape's response body: the metric queries' series and bpfq's own
//! per-query metrics, encoded by prometheus-client (its `Collector`), in the Prometheus text
//! format 0.0.4, or OpenMetrics 1.0 when the scraper's `Accept` asks for it. Guarantees no
//! exposition text is written here by hand: names, labels, escaping and `# EOF` are the
//! library's.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, text, DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use bpfq_compiler::metric::{MetricKind, MetricShape};

use super::samples::{Number, Series};

/// OpenMetrics' content type, as Prometheus asks for it.
const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One metric query's result in a scrape: its series, or none when its run failed.
#[derive(Debug)]
pub struct Published<'s> {
    pub shape: &'s MetricShape,
    pub series: Option<Vec<Series>>,
}

/// What bpfq reports about one query in every scrape.
#[derive(Debug, Clone, Default)]
pub struct QueryStats {
    /// Seconds its last run took (cut off or not).
    pub last_duration: f64,
    /// Rows its last successful run gave.
    pub rows: u64,
    /// Runs cut off at the time budget since start.
    pub timeouts: u64,
    /// Runs that failed otherwise (the kernel refused, a map went away) since start.
    pub failures: u64,
    pub kernel_grouping: bool,
}

/// The body of one scrape and its content type.
pub fn encode(
    published: &[Published<'_>],
    stats: &[(String, QueryStats)],
    openmetrics: bool,
) -> Result<(String, &'static str), std::fmt::Error> {
    let mut registry = Registry::default();
    let scrape = Scrape {
        metrics: published.iter().map(owned).collect(),
        stats: stats.to_vec(),
    };
    registry.register_collector(Box::new(scrape));
    let mut body = String::new();
    if openmetrics {
        text::encode(&mut body, &registry)?;
        Ok((body, OPENMETRICS_TYPE))
    } else {
        prometheus_text::encode(&mut body, &registry)?;
        Ok((body, prometheus_text::CONTENT_TYPE))
    }
}

/// Whether an `Accept` header asks for OpenMetrics (Prometheus lists it first when it does).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|value| value.contains("application/openmetrics-text"))
}

/// A collector owns what it encodes (the library requires `'static`).
fn owned(published: &Published<'_>) -> (MetricShape, Option<Vec<Series>>) {
    (published.shape.clone(), published.series.clone())
}

#[derive(Debug)]
struct Scrape {
    metrics: Vec<(MetricShape, Option<Vec<Series>>)>,
    stats: Vec<(String, QueryStats)>,
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (shape, series) in &self.metrics {
            if let Some(series) = series {
                encode_metric(&mut encoder, shape, series)?;
            }
        }
        self.encode_own(&mut encoder)
    }
}

fn encode_metric(
    encoder: &mut DescriptorEncoder,
    shape: &MetricShape,
    series: &[Series],
) -> Result<(), std::fmt::Error> {
    let metric_type = match shape.kind {
        MetricKind::Gauge => MetricType::Gauge,
        MetricKind::Counter => MetricType::Counter,
    };
    for (sample, (_, family)) in shape.samples.iter().enumerate() {
        let mut family_encoder =
            encoder.encode_descriptor(family, &shape.help, None, metric_type)?;
        for one in series {
            let Some(value) = one.values[sample] else {
                continue;
            };
            let labels: Vec<(&str, &str)> = shape
                .labels
                .iter()
                .map(|(_, name)| name.as_str())
                .zip(one.labels.iter().map(String::as_str))
                .collect();
            let mut sample_encoder = family_encoder.encode_family(&labels)?;
            match (shape.kind, value) {
                (MetricKind::Gauge, Number::Signed(n)) => sample_encoder.encode_gauge(&n)?,
                (MetricKind::Gauge, Number::Unsigned(n)) => sample_encoder.encode_gauge(&n)?,
                (MetricKind::Gauge, Number::Float(x)) => sample_encoder.encode_gauge(&x)?,
                (MetricKind::Counter, Number::Unsigned(n)) => {
                    sample_encoder.encode_counter::<NoLabelSet, _, u64>(&n, None)?
                }
                (MetricKind::Counter, Number::Signed(n)) => {
                    sample_encoder.encode_counter::<NoLabelSet, _, u64>(&(n as f64), None)?
                }
                (MetricKind::Counter, Number::Float(x)) => {
                    sample_encoder.encode_counter::<NoLabelSet, _, u64>(&x, None)?
                }
            }
        }
    }
    Ok(())
}

impl Scrape {
    /// bpfq_query_duration_seconds, bpfq_query_rows, bpfq_query_errors_total and
    /// bpfq_query_kernel_grouping, each labelled by query.
    fn encode_own(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        type Gauge = fn(&QueryStats) -> f64;
        let gauges: [(&str, &str, Gauge); 3] = [
            (
                "bpfq_query_duration_seconds",
                "How long the query's last run took",
                |s| s.last_duration,
            ),
            (
                "bpfq_query_rows",
                "Rows the query's last successful run gave",
                |s| s.rows as f64,
            ),
            (
                "bpfq_query_kernel_grouping",
                "1 when the query groups in the kernel (a BPF hash map), 0 in user space",
                |s| f64::from(u8::from(s.kernel_grouping)),
            ),
        ];
        for (name, help, value) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (query, stats) in &self.stats {
                let labels = [("query", query.as_str())];
                family.encode_family(&labels)?.encode_gauge(&value(stats))?;
            }
        }
        let mut errors = encoder.encode_descriptor(
            "bpfq_query_errors",
            "Runs of the query that published nothing: cut off at the time budget (timeout) or failed (failed)",
            None,
            MetricType::Counter,
        )?;
        for (query, stats) in &self.stats {
            for (reason, count) in [("timeout", stats.timeouts), ("failed", stats.failures)] {
                let labels = [("query", query.as_str()), ("reason", reason)];
                errors
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
            }
        }
        Ok(())
    }
}
