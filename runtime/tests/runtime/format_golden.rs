//! Golden tests of decode + format: hand-made binary rows (as a BPF program would write them)
//! decoded by a row layout and rendered as table, CSV and JSON; snapshots are read by reviewers.

use bpfq_compiler::layout::{ColumnKind, RowLayout};
use bpfq_runtime::decode::{decode_row, Value};
use bpfq_runtime::format::{new_sink, FormatOptions, OutputFormat, PointerKey};

fn layout() -> RowLayout {
    RowLayout::pack([
        (
            "pid".to_string(),
            ColumnKind::Int {
                bytes: 4,
                signed: true,
            },
            false,
        ),
        ("comm".to_string(), ColumnKind::Chars { len: 16 }, false),
        (
            "delta".to_string(),
            ColumnKind::Int {
                bytes: 8,
                signed: true,
            },
            false,
        ),
        (
            "state".to_string(),
            ColumnKind::Enum {
                bytes: 4,
                signed: false,
                names: vec![
                    (0, "TASK_RUNNING".to_string()),
                    (1, "TASK_INTERRUPTIBLE".to_string()),
                ],
            },
            false,
        ),
        ("task".to_string(), ColumnKind::KernelPointer, true),
        ("on_cpu".to_string(), ColumnKind::Bool, false),
        (
            "raw".to_string(),
            ColumnKind::Bytes {
                len: 4,
                pointers: Vec::new(),
            },
            false,
        ),
        (
            "total_vm".to_string(),
            ColumnKind::Int {
                bytes: 8,
                signed: false,
            },
            true,
        ),
    ])
}

struct RowSpec<'a> {
    pid: i32,
    comm: &'a [u8],
    delta: i64,
    state: u32,
    task: Option<u64>,
    on_cpu: bool,
    raw: [u8; 4],
    total_vm: Option<u64>,
}

/// Builds the bytes a BPF program would write for `spec`, through the layout's offsets.
fn encode(layout: &RowLayout, spec: &RowSpec<'_>) -> Vec<u8> {
    let mut row = vec![0u8; layout.size as usize];
    let mut put = |name: &str, bytes: &[u8], null: bool| {
        let column = layout
            .columns
            .iter()
            .find(|c| c.name == name)
            .expect("column");
        let start = column.offset as usize;
        row[start..start + bytes.len()].copy_from_slice(bytes);
        if let Some(flag) = column.null_flag {
            row[flag as usize] = u8::from(null);
        }
    };
    put("pid", &spec.pid.to_le_bytes(), false);
    put("comm", spec.comm, false);
    put("delta", &spec.delta.to_le_bytes(), false);
    put("state", &spec.state.to_le_bytes(), false);
    put(
        "task",
        &spec.task.unwrap_or(0).to_le_bytes(),
        spec.task.is_none(),
    );
    put("on_cpu", &[u8::from(spec.on_cpu)], false);
    put("raw", &spec.raw, false);
    put(
        "total_vm",
        &spec.total_vm.unwrap_or(0).to_le_bytes(),
        spec.total_vm.is_none(),
    );
    row
}

fn rows(layout: &RowLayout) -> Vec<Vec<u8>> {
    let specs = [
        RowSpec {
            pid: 1,
            comm: b"systemd",
            delta: -42,
            state: 1,
            task: Some(0xffff_8880_0123_4500),
            on_cpu: true,
            raw: [0xde, 0xad, 0xbe, 0xef],
            total_vm: Some(5_120),
        },
        RowSpec {
            pid: 42,
            comm: b"a,b \"q\"\nx",
            delta: i64::MIN,
            state: 0x402,
            task: Some(0),
            on_cpu: false,
            raw: [0; 4],
            total_vm: Some(u64::MAX),
        },
        RowSpec {
            pid: -1,
            comm: "ünï→".as_bytes(),
            delta: 0,
            state: 0,
            task: None,
            on_cpu: false,
            raw: [1, 2, 3, 4],
            total_vm: None,
        },
        RowSpec {
            pid: 2_147_483_647,
            comm: b"kworker/u8:3-eve",
            delta: 9_000_000_000,
            state: 1,
            task: Some(0xffff_8880_0123_4500),
            on_cpu: true,
            raw: [0xff; 4],
            total_vm: Some(0),
        },
        RowSpec {
            pid: 7,
            comm: b"tab\there\x7f",
            delta: 1,
            state: 1,
            task: Some(0xffff_8880_0999_0000),
            on_cpu: false,
            raw: [0x10, 0x20, 0x30, 0x40],
            total_vm: Some(1),
        },
    ];
    specs.iter().map(|spec| encode(layout, spec)).collect()
}

fn render(format: OutputFormat, header: bool, show_kptrs: bool) -> String {
    render_with(
        format,
        FormatOptions {
            header,
            show_kptrs,
            pointer_key: PointerKey::fixed(1, 2).into(),
            max_width: None,
        },
    )
}

fn render_with(format: OutputFormat, options: FormatOptions) -> String {
    let layout = layout();
    let mut out = Vec::new();
    {
        let mut sink = new_sink(format, &mut out, options);
        sink.begin(&layout).expect("begin");
        for row in rows(&layout) {
            sink.row(&decode_row(&layout, &row)).expect("row");
        }
        sink.end().expect("end");
    }
    String::from_utf8(out).expect("utf-8 output")
}

#[test]
fn decoded_values() {
    let layout = layout();
    let decoded: Vec<Vec<Value>> = rows(&layout)
        .iter()
        .map(|row| decode_row(&layout, row))
        .collect();
    assert_eq!(decoded[1][2], Value::Int(i64::MIN));
    assert_eq!(
        decoded[1][3],
        Value::Enum {
            value: 0x402,
            name: None
        }
    );
    assert_eq!(decoded[2][4], Value::Null);
    assert_eq!(decoded[2][7], Value::Null);
    assert_eq!(decoded[3][1], Value::Text("kworker/u8:3-eve".to_string()));
    insta::assert_debug_snapshot!("decoded_values", decoded);
}

#[test]
fn table_with_header() {
    insta::assert_snapshot!("table", render(OutputFormat::Table, true, false));
}

#[test]
fn table_without_header_showing_pointers() {
    insta::assert_snapshot!(
        "table_no_header_kptrs",
        render(OutputFormat::Table, false, true)
    );
}

/// The table as a terminal `width` columns wide would show it.
fn table_at_width(width: usize) -> String {
    render_with(
        OutputFormat::Table,
        FormatOptions {
            header: true,
            show_kptrs: false,
            pointer_key: PointerKey::fixed(1, 2).into(),
            max_width: Some(width),
        },
    )
}

#[test]
fn table_fits_a_terminal_width() {
    let natural = render(OutputFormat::Table, true, false);
    let natural_width = natural.lines().map(|l| l.chars().count()).max().unwrap();
    assert_eq!(
        table_at_width(natural_width),
        natural,
        "a table that fits is not cut"
    );
    let width = natural_width - 6;
    let text = table_at_width(width);
    assert_eq!(
        text.lines().map(|l| l.chars().count()).max(),
        Some(width),
        "cut to exactly the width:\n{text}"
    );
    assert!(
        text.contains("kworker/u…"),
        "long text cells are marked as cut"
    );
    insta::assert_snapshot!("table_six_columns_narrower", text);
}

#[test]
fn table_narrower_than_its_numbers_cuts_only_text() {
    let text = table_at_width(40);
    for (line, natural) in text
        .lines()
        .zip(render(OutputFormat::Table, true, false).lines())
    {
        let first = |l: &str| l.split_whitespace().next().map(str::to_string);
        assert_eq!(first(line), first(natural), "integers stay whole");
    }
    assert!(text.contains("9223372036854775808"), "{text}");
    insta::assert_snapshot!("table_width_40", text);
}

#[test]
fn csv() {
    insta::assert_snapshot!("csv", render(OutputFormat::Csv, true, false));
}

#[test]
fn json() {
    insta::assert_snapshot!("json", render(OutputFormat::Json, true, false));
}

#[test]
fn tsv() {
    let text = render(OutputFormat::Tsv, true, false);
    assert!(
        text.lines()
            .all(|l| l.split('\t').count() == text.lines().next().unwrap().split('\t').count()),
        "one line, same field count, per row:\n{text}"
    );
    insta::assert_snapshot!("tsv", text);
}

#[test]
fn jsonl() {
    let text = render(OutputFormat::JsonLines, true, false);
    assert!(
        text.lines().all(|l| l.starts_with('{') && l.ends_with('}')),
        "one object per line:\n{text}"
    );
    insta::assert_snapshot!("jsonl", text);
}

#[test]
fn empty_outputs() {
    let layout = layout();
    let options = FormatOptions {
        header: true,
        show_kptrs: false,
        pointer_key: PointerKey::fixed(1, 2).into(),
        max_width: None,
    };
    let mut outputs = Vec::new();
    for format in [
        OutputFormat::Table,
        OutputFormat::Csv,
        OutputFormat::Tsv,
        OutputFormat::Json,
        OutputFormat::JsonLines,
    ] {
        let mut out = Vec::new();
        {
            let mut sink = new_sink(format, &mut out, options);
            sink.begin(&layout).expect("begin");
            sink.end().expect("end");
        }
        outputs.push(String::from_utf8(out).expect("utf-8"));
    }
    assert_eq!(outputs[3], "[]\n");
    assert_eq!(outputs[4], "", "JSON Lines of no rows is empty");
    assert_eq!(
        outputs[2],
        "pid\tcomm\tdelta\tstate\ttask\ton_cpu\traw\ttotal_vm\n"
    );
    assert_eq!(
        outputs[1],
        "pid,comm,delta,state,task,on_cpu,raw,total_vm\n"
    );
    assert_eq!(
        outputs[0],
        "pid  comm  delta  state  task  on_cpu  raw  total_vm\n"
    );
}

#[test]
fn hidden_pointers_never_show_the_address() {
    for format in [
        OutputFormat::Table,
        OutputFormat::Csv,
        OutputFormat::Tsv,
        OutputFormat::Json,
        OutputFormat::JsonLines,
    ] {
        let text = render(format, true, false);
        assert!(
            !text.contains("ffff8880"),
            "{format:?} leaked an address:\n{text}"
        );
        let shown = render(format, true, true);
        assert!(
            shown.contains("0xffff888001234500"),
            "{format:?} with show_kptrs:\n{shown}"
        );
    }
}

/// Averages as user space computes them, through the same decode path as kernel rows.
fn render_floats(format: OutputFormat) -> String {
    let layout = RowLayout::pack([
        ("comm".to_string(), ColumnKind::Chars { len: 8 }, false),
        ("avg(vsize)".to_string(), ColumnKind::Float, true),
    ]);
    let values: [(&[u8], Option<f64>); 6] = [
        (b"half", Some(2.5)),
        (b"whole", Some(3.0)),
        (b"neg", Some(-0.125)),
        (b"third", Some(1.0 / 3.0)),
        (b"huge", Some(1e21)),
        (b"none", None),
    ];
    let options = FormatOptions {
        header: true,
        show_kptrs: false,
        pointer_key: PointerKey::fixed(1, 2).into(),
        max_width: None,
    };
    let mut out = Vec::new();
    {
        let mut sink = new_sink(format, &mut out, options);
        sink.begin(&layout).expect("begin");
        for (comm, avg) in values {
            let mut row = vec![0u8; layout.size as usize];
            let [text, float] = &layout.columns[..] else {
                panic!("two columns")
            };
            let at = text.offset as usize;
            row[at..at + comm.len()].copy_from_slice(comm);
            let at = float.offset as usize;
            row[at..at + 8].copy_from_slice(&avg.unwrap_or(0.0).to_bits().to_le_bytes());
            row[float.null_flag.expect("nullable") as usize] = u8::from(avg.is_none());
            sink.row(&decode_row(&layout, &row)).expect("row");
        }
        sink.end().expect("end");
    }
    String::from_utf8(out).expect("utf-8 output")
}

#[test]
fn floats_in_every_format() {
    let mut all = String::new();
    for (name, format) in [
        ("table", OutputFormat::Table),
        ("csv", OutputFormat::Csv),
        ("tsv", OutputFormat::Tsv),
        ("json", OutputFormat::Json),
        ("jsonl", OutputFormat::JsonLines),
    ] {
        let text = render_floats(format);
        if matches!(format, OutputFormat::Json | OutputFormat::JsonLines) {
            assert!(text.contains("\"avg(vsize)\":2.5"), "{text}");
            assert!(text.contains("\"avg(vsize)\":null"), "{text}");
        }
        all.push_str(&format!("== {name}\n{text}"));
    }
    insta::assert_snapshot!("floats", all);
}

/// Struct values holding kernel addresses, shown as bytes: `list_head`-like (two pointers) and
/// `{ void *p; u32 n; }`, next to the same addresses in a pointer column.
fn render_pointer_structs(format: OutputFormat, show_kptrs: bool) -> String {
    let layout = RowLayout::pack([
        ("task".to_string(), ColumnKind::KernelPointer, false),
        (
            "tasks".to_string(),
            ColumnKind::Bytes {
                len: 16,
                pointers: vec![0, 8],
            },
            false,
        ),
        (
            "link".to_string(),
            ColumnKind::Bytes {
                len: 12,
                pointers: vec![0],
            },
            false,
        ),
    ]);
    let rows: [(u64, u64, u64, u32); 3] = [
        (
            0xffff_8881_0026_c920,
            0xffff_8881_0026_c920,
            0xffff_ffff_8100_0000,
            7,
        ),
        (0xffff_8881_0026_8420, 0, 0, u32::MAX),
        (0, 0xffff_ffff_c0de_0000, 0xffff_8881_0026_8420, 0),
    ];
    let options = FormatOptions {
        header: true,
        show_kptrs,
        pointer_key: PointerKey::fixed(1, 2).into(),
        max_width: None,
    };
    let mut out = Vec::new();
    {
        let mut sink = new_sink(format, &mut out, options);
        sink.begin(&layout).expect("begin");
        for (task, next, link, n) in rows {
            let mut row = vec![0u8; layout.size as usize];
            let mut put = |index: usize, bytes: &[u8]| {
                let start = layout.columns[index].offset as usize;
                row[start..start + bytes.len()].copy_from_slice(bytes);
            };
            put(0, &task.to_le_bytes());
            put(1, &[next.to_le_bytes(), task.to_le_bytes()].concat());
            put(2, &[&link.to_le_bytes()[..], &n.to_le_bytes()].concat());
            sink.row(&decode_row(&layout, &row)).expect("row");
        }
        sink.end().expect("end");
    }
    String::from_utf8(out).expect("utf-8 output")
}

#[test]
fn pointers_inside_structs_are_hidden_in_every_format() {
    let mut all = String::new();
    for format in [
        OutputFormat::Table,
        OutputFormat::Csv,
        OutputFormat::Tsv,
        OutputFormat::Json,
        OutputFormat::JsonLines,
    ] {
        let hidden = render_pointer_structs(format, false);
        // Numeric order (a pointer column) and memory order (bytes), kernel and module space.
        for address in [
            "ffff8881",
            "8188ffff",
            "ffffffff81",
            "81ffffffff",
            "ffffffffc0de",
            "dec0ffffffff",
            "26c920",
            "20c926",
        ] {
            assert!(
                !hidden.contains(address),
                "{format:?} leaked an address:\n{hidden}"
            );
        }
        let shown = render_pointer_structs(format, true);
        assert!(
            shown.contains("20c926008188ffff") && shown.contains("00000081ffffffff"),
            "{format:?} with show_kptrs:\n{shown}"
        );
        all.push_str(&format!("-- {format:?}\n{hidden}"));
    }
    insta::assert_snapshot!("pointer_structs_hidden", all);
}
