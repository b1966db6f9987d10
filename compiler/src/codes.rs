//! Diagnostic codes (all stages): every code bpfq can report, with a one-line
//! explanation in [`ALL`] for `bpfq explain-code`. Codes are stable: never reuse one.
//!
//! Ranges: E00xx parse, E01xx name resolution, E02xx types, E03xx backend,
//! E09xx internal errors (bugs in bpfq), and from E0905 on the run's surroundings (its output,
//! its privileges).

// ---------------------------------------------------------------- E00xx: parse

/// A token the grammar does not allow here (misspelled keyword, missing operand...).
pub const PARSE_UNEXPECTED: &str = "E0001";
/// A string literal runs to the end of its line or of the input.
pub const PARSE_UNTERMINATED_STRING: &str = "E0002";
/// A backslash escape in a string that bpfq does not know.
pub const PARSE_BAD_ESCAPE: &str = "E0003";
/// An integer literal larger than u64::MAX.
pub const PARSE_INT_TOO_LARGE: &str = "E0004";
/// `select` with nothing after it.
pub const PARSE_EMPTY_SELECT: &str = "E0005";
/// A list ends with a comma.
pub const PARSE_TRAILING_COMMA: &str = "E0006";
/// A query that does not start with `from <target>`.
pub const PARSE_MISSING_FROM: &str = "E0007";
/// A `(` or `[` never closed, or a `)` or `]` never opened.
pub const PARSE_UNBALANCED: &str = "E0008";
/// `a == b == c`: comparisons do not chain.
pub const PARSE_CHAINED_COMPARISON: &str = "E0009";
/// Nesting deeper than the parser accepts.
pub const PARSE_TOO_DEEP: &str = "E0010";
/// An integer literal with no digits (`0x`, `0b_`).
pub const PARSE_BAD_INTEGER: &str = "E0011";
/// A backquoted name that is never closed.
pub const PARSE_UNTERMINATED_NAME: &str = "E0012";
/// A reserved word where a name is expected.
pub const PARSE_KEYWORD_AS_NAME: &str = "E0013";
/// `use` in a one-line command-line query: modules are used by query files only.
pub const PARSE_USE_OUTSIDE_FILE: &str = "E0014";
/// `bpfq fmt`: a comment the formatter cannot keep in its place and order.
pub const FMT_COMMENT_MISPLACED: &str = "E0015";
/// A file read as bpfq source (a user stdlib file, a module, a query file) is not UTF-8 query
/// text: its bytes are never quoted in a diagnostic.
pub const NOT_QUERY_TEXT: &str = "E0016";
/// Query or module text that is not UTF-8 (the first bad byte's place is given).
pub const SOURCE_NOT_UTF8: &str = "E0020";
/// A control character (NUL, an escape sequence...) in query text, outside any escape.
pub const PARSE_CONTROL_CHARACTER: &str = "E0021";
/// `--param NAME=...` for a parameter the query file neither declares nor uses.
pub const UNDECLARED_PARAM_GIVEN: &str = "E0022";
/// A numeric command-line option outside the range it accepts (`--ring-size`, `--watch`...).
pub const OPTION_OUT_OF_RANGE: &str = "E0023";

// ---------------------------------------------------------------- E01xx: names

/// `from X` where the kernel has no BPF iterator X.
pub const UNKNOWN_TARGET: &str = "E0101";
/// A name that is no stdlib column, context field or member of the main object, or a call of
/// no built-in function.
pub const UNKNOWN_NAME: &str = "E0102";
/// `.x` where the struct has no member x.
pub const UNKNOWN_MEMBER: &str = "E0103";
/// `.x` on something that is not a struct or a pointer to one.
pub const NOT_A_STRUCT: &str = "E0104";
/// A path into a type the BTF does not describe (forward declaration, function pointer).
pub const NO_BTF_TYPE: &str = "E0105";
/// `[i]` that is not a constant, out of bounds, or on something that is not an array.
pub const BAD_INDEX: &str = "E0106";
/// A stdlib column none of whose alternatives exists in this kernel's BTF.
pub const STDLIB_COLUMN_UNAVAILABLE: &str = "E0107";
/// `$name` with no `--param name=...`.
pub const UNKNOWN_PARAM: &str = "E0108";
/// An iterator parameter the target does not take, or a value it cannot take.
pub const BAD_PARAMETER: &str = "E0110";
/// `select *` (or no select) on a target without stdlib default columns.
pub const NO_DEFAULT_COLUMNS: &str = "E0109";
/// `bpfq run FILE NAME` where FILE has no `query NAME = ...`.
pub const UNKNOWN_QUERY: &str = "E0111";
/// `bpfq run FILE` without a name, where FILE holds several queries.
pub const QUERY_NOT_CHOSEN: &str = "E0112";
/// A query file with declarations but no query.
pub const NO_QUERY_IN_FILE: &str = "E0113";
/// A `param` declared without a default and not given with `--param`.
pub const MISSING_PARAM: &str = "E0114";
/// A map-element target (bpf_map_elem, bpf_sk_storage_map, sockmap) without `map = ...`.
pub const MAP_REQUIRED: &str = "E0115";
/// `map = ...` names no map of this machine (or it cannot be opened).
pub const UNKNOWN_MAP: &str = "E0116";
/// `map = ...` names a map of a type the target cannot walk.
pub const WRONG_MAP_TYPE: &str = "E0117";
/// The BTF data is malformed: a type, member or string it refers to is out of range, or its
/// types loop.
pub const MALFORMED_BTF: &str = "E0118";
/// `use a.b` names no module: no `a/b.bpfq` in any search directory, or no `std.b`.
pub const UNKNOWN_MODULE: &str = "E0119";
/// Modules that use each other in a cycle (`a` uses `b` uses `a`).
pub const MODULE_CYCLE: &str = "E0120";
/// A used module's file exists but cannot be read (a directory, not UTF-8, no permission).
pub const MODULE_UNREADABLE: &str = "E0121";
/// Two used modules, neither using the other, define the same column or `defaults`.
pub const DUPLICATE_DEFINITION: &str = "E0122";
/// An input file (query file, module, user library file, `--btf`) that is not a regular file or
/// is larger than bpfq reads.
pub const INPUT_REFUSED: &str = "E0123";
/// Column definitions that use one another nest deeper than bpfq compiles.
pub const COLUMNS_TOO_DEEP: &str = "E0124";
/// An `in` list longer than bpfq compiles into one program.
pub const IN_LIST_TOO_LONG: &str = "E0125";
/// An expression that nests too deeply once the columns it uses are put in place.
pub const BOUND_TOO_DEEP: &str = "E0126";
/// A join would hold more row combinations in memory than `--max-join-rows` allows.
pub const JOIN_TOO_LARGE: &str = "E0127";

// ---------------------------------------------------------------- E02xx: types

/// Operands of a comparison that cannot be compared.
pub const TYPE_MISMATCH: &str = "E0201";
/// A struct, array or string where a column value is needed.
pub const NOT_A_VALUE: &str = "E0202";
/// A string literal longer than the char array it is compared with, or a `like` pattern that
/// needs more bytes than the array holds.
pub const STRING_TOO_LONG: &str = "E0203";
/// A value where a condition is needed (`where`, `and`, `or`, `not`).
pub const EXPECTED_CONDITION: &str = "E0204";
/// A non-integer operand of arithmetic.
pub const EXPECTED_INTEGER: &str = "E0205";
/// Division or remainder by the constant zero.
pub const DIVISION_BY_ZERO: &str = "E0206";
/// A cast to something that is not an integer type (or a related struct).
pub const BAD_CAST: &str = "E0207";
/// A parameter value (given or default) that is not of the parameter's declared type.
pub const PARAM_TYPE: &str = "E0208";
/// `param x: T` where T is no parameter type.
pub const BAD_PARAM_TYPE: &str = "E0209";
/// A map key or value bpfq cannot show (a per-CPU non-integer value, or too many bytes).
pub const MAP_ELEMENT_UNREADABLE: &str = "E0210";
/// An aggregate in `where`, in `group by` or inside another aggregate.
pub const AGGREGATE_MISPLACED: &str = "E0220";
/// A selected, `having` or `order by` value of a grouped query that is neither a `group by` key
/// nor inside an aggregate.
pub const NOT_GROUPED: &str = "E0221";
/// An aggregate of a type it cannot take (`sum(comm)`), or with the wrong number of arguments.
pub const AGGREGATE_ARGUMENT: &str = "E0222";
/// `having` in a query with neither `group by` nor aggregates.
pub const HAVING_WITHOUT_GROUPING: &str = "E0223";
/// A join `on` condition that is not `==` between the two sources (several joined with `and`).
pub const JOIN_CONDITION: &str = "E0224";
/// In a join: a name both sources have, a value using both sources, or two sources of one name.
pub const JOIN_AMBIGUOUS: &str = "E0225";
/// A string compared with an enum value that names none of the enum's members.
pub const UNKNOWN_ENUM_MEMBER: &str = "E0226";
/// A call of a built-in function with too few or too many arguments.
pub const FUNCTION_ARITY: &str = "E0230";
/// An argument of a user-space function of a type it does not take (`upper(pid)`).
pub const FUNCTION_ARGUMENT: &str = "E0231";
/// A function computed in user space where only the program's values can be: a grouped query,
/// a join, `bpfq pin`/`compile`, inside a cast.
pub const USER_FUNCTION_PLACE: &str = "E0232";
/// A string compared with a socket address that is no IPv4 or IPv6 address or prefix.
pub const BAD_ADDRESS: &str = "E0260";
/// An address prefix whose length is not a number up to 32 (IPv4) or 128 (IPv6).
pub const BAD_PREFIX_LENGTH: &str = "E0261";
/// An address prefix with bits set after its length (`10.1.2.3/8`).
pub const PREFIX_HOST_BITS: &str = "E0262";
/// An address prefix compared with `==` or `!=` instead of matched with `in`.
pub const PREFIX_NEEDS_IN: &str = "E0263";
/// A string compared with a column shown as text (a state letter, a terminal name) that no
/// value of the column shows as, or such a column ordered with `<`/`>`.
pub const NOT_A_SHOWN_VALUE: &str = "E0250";
/// A construct the language has but this version does not compile yet.
pub const UNSUPPORTED: &str = "E0290";

// ---------------------------------------------------------------- E03xx: backend

/// The row buffer and spilled values exceed the 512-byte BPF stack.
pub const STACK_TOO_LARGE: &str = "E0301";
/// A row over the iterator's per-object output limit, or one column wider than a row segment.
pub const ROW_TOO_WIDE: &str = "E0302";
/// `bpfq pin` / `bpfq compile`: the rows cannot be printed by the program, object by object.
pub const TEXT_OUTPUT_UNSUPPORTED: &str = "E0303";
/// The kernel refuses programs on map-element iterators (probed): a `bpf_map_elem` query's rows
/// are read from user space, and this part of it (or `pin`/`compile`) needs a program.
pub const MAP_ELEM_PROGRAM_REFUSED: &str = "E0304";
/// The kernel refuses programs on map-element iterators and the sockmap named has 4-byte
/// values: a lookup from user space does not answer its sockets' cookies.
pub const SOCKMAP_WITHOUT_COOKIES: &str = "E0305";
/// A file or directory bpfq would read definitions from or pin through is owned by another user
/// or writable by others (`runtime/src/trust.rs`).
pub const UNTRUSTED_PATH: &str = "E0310";
/// `bpfq pin --mode` with bits beyond the permission bits (setuid, setgid, sticky).
pub const PIN_MODE_BITS: &str = "E0311";
/// `bpfq unpin` of a pinned object that `bpfq pin` did not create.
pub const UNPIN_FOREIGN: &str = "E0312";
/// `bpfq pin`/`unpin` of a path whose last component is a symbolic link.
pub const PIN_PATH_SYMLINK: &str = "E0313";

// ---------------------------------------------------------------- E09xx: internal

/// The parser met a tree shape its grammar cannot produce: a bug in bpfq.
pub const INTERNAL_PARSER: &str = "E0901";
/// A later stage met an impossible state: a bug in bpfq.
pub const INTERNAL: &str = "E0902";
/// bpfq panicked (the CLI's panic hook reports it): a bug in bpfq.
pub const PANIC: &str = "E0903";
/// `bpfq fmt` would have changed what a file means: a bug in bpfq.
pub const INTERNAL_FORMAT: &str = "E0904";
/// Standard output cannot be written (a full disk, an I/O error, closed before bpfq started).
pub const OUTPUT_FAILED: &str = "E0905";
/// `--key COL` naming a column the query does not select.
pub const CHANGE_KEY_UNKNOWN: &str = "E0906";
/// `--changes` without `--watch` or `--count`: a single run has nothing to compare with.
pub const CHANGES_WITHOUT_REPEAT: &str = "E0907";
/// `--changes` on a query selecting a column named like a change column (`action`, `time`,
/// `unix_time`).
pub const CHANGE_COLUMN_TAKEN: &str = "E0908";

// ---------------------------------------------------------------- E092x: `bpfq serve`

/// A `metric` query whose rows are not one per label set: it has no `group by` or aggregate.
pub const METRIC_NOT_GROUPED: &str = "E0920";
/// A `metric` query's column that is neither a `group by` key (a label) nor a number (a sample).
pub const METRIC_SAMPLE_NOT_NUMBER: &str = "E0921";
/// A `metric` kind other than `gauge` or `counter`.
pub const METRIC_KIND: &str = "E0922";
/// A `metric` query that joins sources.
pub const METRIC_JOIN: &str = "E0923";
/// A metric or label name Prometheus does not accept.
pub const METRIC_NAME: &str = "E0924";
/// Two metrics of the served files (or a metric and bpfq's own) publish the same name.
pub const METRIC_DUPLICATE: &str = "E0925";
/// A file or directory given to `bpfq serve` holds no `metric` item.
pub const SERVE_NO_METRIC: &str = "E0926";
/// `bpfq serve` cannot listen on the address it was given.
pub const SERVE_LISTEN: &str = "E0927";
/// `bpfq serve` cannot give up the capabilities it no longer needs.
pub const SERVE_CAPABILITIES: &str = "E0928";
/// A `metric` query with no aggregate column: every column is a label, nothing to publish.
pub const METRIC_NO_SAMPLE: &str = "E0929";
/// A `metric` query grouped by a key it does not select: its series would repeat.
pub const METRIC_KEY_NOT_LABEL: &str = "E0930";

/// Every code with a one-line explanation, in code order.
pub const ALL: &[(&str, &str)] = &[
    (
        PARSE_UNEXPECTED,
        "the query has a token the grammar does not allow at that place",
    ),
    (
        PARSE_UNTERMINATED_STRING,
        "a string literal is missing its closing `\"` on the same line",
    ),
    (
        PARSE_BAD_ESCAPE,
        "a string uses an escape other than \\\\ \\\" \\n \\t \\0 \\xNN",
    ),
    (
        PARSE_INT_TOO_LARGE,
        "an integer literal does not fit in 64 bits",
    ),
    (
        PARSE_EMPTY_SELECT,
        "`select` needs at least one expression, or `*`",
    ),
    (
        PARSE_TRAILING_COMMA,
        "a list ends with a comma; remove it or add the missing item",
    ),
    (PARSE_MISSING_FROM, "a query starts with `from <target>`"),
    (PARSE_UNBALANCED, "a parenthesis or bracket is not matched"),
    (
        PARSE_CHAINED_COMPARISON,
        "comparisons cannot be chained: use parentheses or `and`",
    ),
    (PARSE_TOO_DEEP, "the query nests deeper than bpfq accepts"),
    (
        PARSE_BAD_INTEGER,
        "an integer literal has a prefix (0x, 0b) but no digits",
    ),
    (
        PARSE_UNTERMINATED_NAME,
        "a backquoted name is missing its closing backquote",
    ),
    (
        PARSE_KEYWORD_AS_NAME,
        "a reserved word is used as a name; backquote it: `order`",
    ),
    (
        PARSE_USE_OUTSIDE_FILE,
        "`use` belongs in a query file: run it with `bpfq -f FILE` or `bpfq run FILE`",
    ),
    (
        FMT_COMMENT_MISPLACED,
        "`bpfq fmt` cannot keep a comment where it is; put it on its own line before the clause or item",
    ),
    (
        NOT_QUERY_TEXT,
        "a file read as bpfq source is not UTF-8 text starting with a bpfq item; it is named, \
         never quoted: check that the path points at the .bpfq file you meant",
    ),
    (
        SOURCE_NOT_UTF8,
        "a query file or module is not UTF-8 text; the message gives the first bad byte's line and column",
    ),
    (
        PARSE_CONTROL_CHARACTER,
        "query text holds a control character (NUL, ESC...); remove it, or write it as an escape in a string",
    ),
    (
        UNDECLARED_PARAM_GIVEN,
        "`--param` names a parameter the query file does not declare (and its query does not use): a misspelt name would be ignored",
    ),
    (
        OPTION_OUT_OF_RANGE,
        "a numeric option (`--ring-size`, `--group-entries`, `--count`, `--watch`) is outside the range the message names",
    ),
    (
        UNKNOWN_TARGET,
        "the kernel has no BPF iterator of that name: `bpfq targets` lists them",
    ),
    (
        UNKNOWN_NAME,
        "the name is no stdlib column, context field or member of the target's object, or the call no built-in function",
    ),
    (
        UNKNOWN_MEMBER,
        "the struct has no member of that name in this kernel's BTF",
    ),
    (
        NOT_A_STRUCT,
        "only structs and pointers to structs have members",
    ),
    (
        NO_BTF_TYPE,
        "the path leads into a type the BTF does not describe",
    ),
    (
        BAD_INDEX,
        "array indexes are constants within the array's bounds",
    ),
    (
        STDLIB_COLUMN_UNAVAILABLE,
        "no alternative of the stdlib column exists in this kernel's BTF",
    ),
    (
        UNKNOWN_PARAM,
        "a `$name` in the query needs `--param name=value`",
    ),
    (
        NO_DEFAULT_COLUMNS,
        "the target has no default columns: name the columns to select",
    ),
    (
        BAD_PARAMETER,
        "task, task_file and task_vma take one parameter: `pid` or `tid`, a positive integer",
    ),
    (
        UNKNOWN_QUERY,
        "the query file has no query of that name: `query NAME = from ...;` declares one",
    ),
    (
        QUERY_NOT_CHOSEN,
        "the query file holds several queries: name one after the file",
    ),
    (
        NO_QUERY_IN_FILE,
        "the query file declares things but holds no query to run",
    ),
    (
        MISSING_PARAM,
        "a parameter declared without a default needs `--param name=value`",
    ),
    (
        MAP_REQUIRED,
        "bpf_map_elem, bpf_sk_storage_map and sockmap walk one map: name it with `map = \"NAME\"`, `map = ID` or `map = \"/sys/fs/bpf/PINNED\"`",
    ),
    (
        UNKNOWN_MAP,
        "no BPF map of that name or id exists on this machine, or it cannot be opened",
    ),
    (
        WRONG_MAP_TYPE,
        "the target cannot walk maps of this type (bpf_map_elem: hash, array and their per-CPU and LRU kinds; bpf_sk_storage_map: sk_storage; sockmap: sockmap and sockhash)",
    ),
    (
        MALFORMED_BTF,
        "the BTF data is broken (a type, member or string out of range, or a loop of types): check the --btf file",
    ),
    (
        UNKNOWN_MODULE,
        "`use a.b` looks for a/b.bpfq in the query file's directory, then each $BPFQ_PATH directory, then ~/.config/bpfq; `use std.NAME` names an embedded stdlib file (`bpfq targets` lists the targets)",
    ),
    (
        MODULE_CYCLE,
        "modules may not use each other in a cycle: move the shared columns into a module both use",
    ),
    (
        MODULE_UNREADABLE,
        "a module file was found but cannot be read: it must be a readable UTF-8 text file",
    ),
    (
        DUPLICATE_DEFINITION,
        "two used modules define the same column (or `defaults`) and neither uses the other, so neither wins: define it in the query file itself, or drop one `use`",
    ),
    (
        INPUT_REFUSED,
        "bpfq reads query files, modules and BTF only from regular files of bounded size (16 MiB of text, 256 MiB of BTF): not from a FIFO, a device or a directory",
    ),
    (
        COLUMNS_TOO_DEEP,
        "a column is defined through a chain of other columns deeper than bpfq compiles: define it from fields directly",
    ),
    (
        IN_LIST_TOO_LONG,
        "an `in` list has more values than bpfq compiles into one program: split the query, or filter in user space",
    ),
    (
        BOUND_TOO_DEEP,
        "with the columns it uses put in place, an expression nests deeper than bpfq compiles: define columns from fields, not through long chains",
    ),
    (
        JOIN_TOO_LARGE,
        "a join would hold more row combinations in memory than --max-join-rows allows: narrow it with `where`, or raise the limit",
    ),
    (
        TYPE_MISMATCH,
        "the operands have types that cannot be compared",
    ),
    (
        NOT_A_VALUE,
        "a struct, array or string literal cannot be an output column",
    ),
    (
        STRING_TOO_LONG,
        "a string literal longer than the char array can never be equal to it, nor a `like` pattern needing more bytes than it holds match it",
    ),
    (
        EXPECTED_CONDITION,
        "a condition is needed: compare the value with something",
    ),
    (EXPECTED_INTEGER, "arithmetic needs integer operands"),
    (
        DIVISION_BY_ZERO,
        "division or remainder by the constant zero",
    ),
    (
        BAD_CAST,
        "casts go to integer types: u8 u16 u32 u64 s8 s16 s32 s64",
    ),
    (
        PARAM_TYPE,
        "a parameter's value does not fit its declared type (range, integer, bool)",
    ),
    (
        BAD_PARAM_TYPE,
        "parameter types are u8 u16 u32 u64 s8 s16 s32 s64 bool string",
    ),
    (
        MAP_ELEMENT_UNREADABLE,
        "map keys and values are shown up to 1024 bytes; per-CPU values are summed, so they must be integers of 1, 2, 4 or 8 bytes",
    ),
    (
        AGGREGATE_MISPLACED,
        "aggregates (count, sum, min, max, avg) go in select, having and order by; not in where, group by or another aggregate",
    ),
    (
        NOT_GROUPED,
        "in a grouped query every value must be a group by key or inside an aggregate",
    ),
    (
        AGGREGATE_ARGUMENT,
        "sum and avg take one integer; min and max one integer, enum, boolean or text; count any value",
    ),
    (
        HAVING_WITHOUT_GROUPING,
        "having filters groups: the query needs group by or an aggregate; use where to filter rows",
    ),
    (
        JOIN_CONDITION,
        "a join's on condition is `a.x == b.y`, or several such equalities joined with and",
    ),
    (
        JOIN_AMBIGUOUS,
        "in a join each value comes from one source: qualify names with the source's name or alias",
    ),
    (
        UNKNOWN_ENUM_MEMBER,
        "a string compared with an enum names one of its values, e.g. \"TCP_LISTEN\" or \"LISTEN\"",
    ),
    (
        FUNCTION_ARITY,
        "each function takes the number of arguments `bpfq describe functions` lists",
    ),
    (
        FUNCTION_ARGUMENT,
        "text functions take text (char arrays, strings, paths), number functions integers; `bpfq describe functions` lists them",
    ),
    (
        USER_FUNCTION_PLACE,
        "functions computed in user space (upper, concat, now...) go in `select` and `where` of a single-source query without grouping, whose rows bpfq prints",
    ),
    (
        BAD_ADDRESS,
        "a socket address is compared with an IPv4 or IPv6 address (\"10.1.2.3\", \"::1\") or matched with a prefix (\"10.0.0.0/8\")",
    ),
    (
        BAD_PREFIX_LENGTH,
        "a prefix length is a number of bits after `/`: at most 32 for IPv4, 128 for IPv6",
    ),
    (
        PREFIX_HOST_BITS,
        "a prefix has no bits set after its length: write its network (10.0.0.0/8, not 10.1.2.3/8)",
    ),
    (
        PREFIX_NEEDS_IN,
        "an address is inside a prefix, not equal to it: write `dst in (\"10.0.0.0/8\")`",
    ),
    (
        NOT_A_SHOWN_VALUE,
        "a column shown as text (state_letter, tty) is compared with `==` or `!=` against a text it shows, e.g. \"Z\" or \"pts/3\"",
    ),
    (
        UNSUPPORTED,
        "the language has this construct but this version does not compile it yet",
    ),
    (
        ROW_TOO_WIDE,
        "one object's row must stay under 32 KiB, and one column under 384 bytes",
    ),
    (
        TEXT_OUTPUT_UNSUPPORTED,
        "pin and compile print rows in the kernel: no sort, limit, grouping, join, ring-buffer \
         target (unix) or row over 384 bytes",
    ),
    (
        MAP_ELEM_PROGRAM_REFUSED,
        "this kernel refuses programs on map-element iterators, so bpfq reads bpf_map_elem rows \
         with the map syscalls: key, value, map id, name, type and sizes, compared, combined with \
         and/or/not/in, arithmetic and casts, and bpf_sk_storage_map and sockmap rows through \
         the socket iterators, which see the socket and its value or key but not the map; \
         anything else, and pin or compile, needs a program",
    ),
    (
        SOCKMAP_WITHOUT_COOKIES,
        "this kernel refuses programs on map-element iterators, so bpfq finds a sockmap's \
         sockets by looking its slots up from user space, which answers the socket's cookie only \
         for a map created with 8-byte (u64) values; a map with 4-byte values cannot be read \
         here",
    ),
    (
        UNTRUSTED_PATH,
        "bpfq reads definitions ($BPFQ_PATH, ~/.config/bpfq, used modules) and pins only through \
         files and directories owned by root or the running user and not writable by group or \
         others (a sticky directory such as /tmp may be: then its entries' owners count), as \
         sudo and ssh do; change the owner or mode the message names, or use another directory",
    ),
    (
        PIN_MODE_BITS,
        "`bpfq pin --mode` takes permission bits only, 0 to 0777: no setuid, setgid or sticky bit",
    ),
    (
        UNPIN_FOREIGN,
        "`bpfq unpin` removes only the iterator links `bpfq pin` created (programs named bpfq_*); \
         remove another program's pin with the tool that made it",
    ),
    (
        PIN_PATH_SYMLINK,
        "`bpfq pin` and `bpfq unpin` never follow a symbolic link at the pin path; name the pin itself",
    ),
    (
        STACK_TOO_LARGE,
        "the row and spilled values do not fit the 512-byte BPF stack",
    ),
    (
        INTERNAL_PARSER,
        "internal error in the parser: please report it as a bpfq bug",
    ),
    (
        INTERNAL,
        "internal error in the compiler: please report it as a bpfq bug",
    ),
    (
        PANIC,
        "bpfq panicked (an index out of range, a broken assumption): please report it as a bpfq bug with the message",
    ),
    (
        INTERNAL_FORMAT,
        "`bpfq fmt` produced text that means something else: a bug in bpfq; nothing was written",
    ),
    (
        OUTPUT_FAILED,
        "the output cannot be written (no space left on the device, an I/O error, standard output closed); a reader that went away is not an error",
    ),
    (
        CHANGE_KEY_UNKNOWN,
        "`--key` names the columns that identify a row for `--changes`: each must be a column the \
         query selects, by its name in the output (an `as` name where the query gives one)",
    ),
    (
        CHANGES_WITHOUT_REPEAT,
        "`--changes` prints what changed since the previous run, so it needs runs to compare: add \
         `--watch SECS` (or `--count N`)",
    ),
    (
        CHANGE_COLUMN_TAKEN,
        "`--changes` puts the columns `action`, `time` and `unix_time` before the query's; a \
         query column of the same name would be ambiguous: rename it with `as`",
    ),
    (
        METRIC_NOT_GROUPED,
        "a `metric` query gives one row per label set: `group by` the columns that become labels and aggregate the values (count(*), sum(...))",
    ),
    (
        METRIC_SAMPLE_NOT_NUMBER,
        "a `metric` query's column that is not a `group by` key becomes a sample and must be a number: group by it (a label) or aggregate it",
    ),
    (METRIC_KIND, "a `metric` is a `gauge` (the default) or a `counter`"),
    (
        METRIC_JOIN,
        "a `metric` query reads one source: publish each source as its own metric",
    ),
    (
        METRIC_NAME,
        "metric and label names are letters, digits and `_`, not starting with a digit (metric names may hold `:`), and labels do not start with `__`",
    ),
    (
        METRIC_DUPLICATE,
        "each metric name is published once: rename one of the `metric` items (names starting `bpfq_query_` are bpfq's own)",
    ),
    (
        SERVE_NO_METRIC,
        "`bpfq serve` publishes `metric NAME = QUERY;` items: the file (or the directory's *.bpfq files) holds none",
    ),
    (
        SERVE_LISTEN,
        "`bpfq serve` cannot listen on the address of `--listen` (in use, not an address of this machine, or a privileged port)",
    ),
    (
        SERVE_CAPABILITIES,
        "`bpfq serve` could not drop the capabilities it no longer needs after loading, and stops rather than serve with them",
    ),
    (
        METRIC_NO_SAMPLE,
        "a `metric` query needs at least one aggregate column: its values are the samples",
    ),
    (
        METRIC_KEY_NOT_LABEL,
        "every `group by` key of a `metric` query is selected as a label, else two groups would publish the same series",
    ),
];

/// The explanation of `code`, if it is one of [`ALL`].
pub fn explain(code: &str) -> Option<&'static str> {
    ALL.iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(code))
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        for (index, (code, text)) in ALL.iter().enumerate() {
            assert!(code.len() == 5 && code.starts_with('E'), "{code}");
            assert!(code[1..].chars().all(|c| c.is_ascii_digit()), "{code}");
            assert!(!text.is_empty());
            assert!(
                ALL[index + 1..].iter().all(|(other, _)| other != code),
                "{code} twice"
            );
        }
    }

    #[test]
    fn explain_finds_known_codes_only() {
        assert!(explain("E0001").is_some());
        assert!(explain("e0009").is_some());
        assert!(explain("E9999").is_none());
    }
}
