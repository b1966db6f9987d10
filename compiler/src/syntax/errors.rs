//! Parse error mapping (stage: parse): pest's "expected rules at position" becomes a
//! coded diagnostic in words. Guarantees: grammar rule names never reach the user
//! (`describe_rule` is an exhaustive match), the found token is spelled out, and
//! common mistakes get their own code and a hint.

use pest::error::{ErrorVariant, InputLocation};

use super::lexical::{Token, TokenKind};
use super::Rule;
use crate::codes;
use crate::diagnostic::{nearest_names, Diagnostic, FileId, Span};

/// Words a query can start a clause with, in the order clauses must appear.
const CLAUSE_ORDER: &[&str] = &[
    "from", "join", "select", "where", "group", "having", "order", "limit",
];

const MODULE_STARTS: &[Rule] = &[
    Rule::kw_from,
    Rule::kw_use,
    Rule::kw_param,
    Rule::kw_query,
    Rule::kw_column,
    Rule::kw_defaults,
];

const RESERVED: &[&str] = &[
    "from", "select", "where", "group", "by", "having", "order", "limit", "join", "on", "as",
    "and", "or", "not", "like", "in", "is", "null", "true", "false", "asc", "desc", "distinct",
    "cast",
];

pub fn from_pest(
    error: pest::error::Error<Rule>,
    src: &str,
    file: FileId,
    tokens: &[Token],
) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    let positives = match error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { message } => {
            return Diagnostic::error(
                codes::PARSE_TOO_DEEP,
                "the query is too complex for the parser",
            )
            .with_primary(Span::new(file, pos, pos), "while reading this")
            .with_note(format!("the parser stopped with: {message}"));
        }
    };
    Unexpected::new(src, file, tokens, pos, &positives).into_diagnostic()
}

/// Everything known about one "unexpected token" situation.
struct Unexpected<'a> {
    src: &'a str,
    file: FileId,
    found: Option<Token>,
    previous: Option<Token>,
    is_first_token: bool,
    expected: Vec<&'static str>,
    expected_rules: Vec<Rule>,
}

impl<'a> Unexpected<'a> {
    fn new(src: &'a str, file: FileId, tokens: &[Token], pos: usize, positives: &[Rule]) -> Self {
        let found_index = tokens.iter().position(|token| token.end > pos);
        let found = found_index.map(|index| tokens[index]);
        let previous = match found_index {
            Some(0) => None,
            Some(index) => tokens.get(index - 1).copied(),
            None => tokens.last().copied(),
        };
        // A failure at the very start is reported as the entry rule: say what may start it.
        let positives: Vec<Rule> = positives
            .iter()
            .flat_map(|rule| match rule {
                Rule::module_input => MODULE_STARTS.to_vec(),
                Rule::query_input => vec![Rule::kw_from],
                other => vec![*other],
            })
            .collect();
        let expected = expected_words(&positives);
        Unexpected {
            src,
            file,
            found,
            previous,
            is_first_token: found_index == Some(0),
            expected,
            expected_rules: positives,
        }
    }

    fn found_text(&self) -> &'a str {
        match self.found {
            Some(token) => token.text(self.src),
            None => "",
        }
    }

    fn found_word(&self) -> Option<&'a str> {
        match self.found {
            Some(token) if token.kind == TokenKind::Word => Some(token.text(self.src)),
            _ => None,
        }
    }

    fn found_reserved(&self) -> Option<&'a str> {
        self.found_word().filter(|word| {
            RESERVED
                .iter()
                .any(|reserved| reserved.eq_ignore_ascii_case(word))
        })
    }

    fn found_description(&self) -> String {
        match self.found {
            None => "end of input".to_string(),
            Some(_) => {
                let text = self.found_text();
                // Control characters are shown escaped: echoed raw they could drive the
                // user's terminal.
                let shown: String = text
                    .chars()
                    .take(32)
                    .map(|c| match c.is_control() {
                        true => c.escape_unicode().to_string(),
                        false => c.to_string(),
                    })
                    .collect();
                let ellipsis = if text.chars().count() > 32 { "..." } else { "" };
                format!("`{shown}{ellipsis}`")
            }
        }
    }

    fn found_span(&self) -> Span {
        match self.found {
            Some(token) => Span::new(self.file, token.start, token.end),
            None => Span::new(self.file, self.src.len(), self.src.len()),
        }
    }

    fn expects(&self, rule: Rule) -> bool {
        self.expected_rules.contains(&rule)
    }

    fn expects_operand(&self) -> bool {
        self.expected_rules.iter().any(|rule| {
            matches!(
                rule,
                Rule::expr
                    | Rule::expr_nocast
                    | Rule::primary
                    | Rule::ident
                    | Rule::select_item
                    | Rule::order_key
            )
        })
    }

    fn previous_is(&self, text: &str) -> Option<Token> {
        self.previous
            .filter(|token| token.text(self.src).eq_ignore_ascii_case(text))
    }

    /// Keywords among the expected tokens, as written in a query.
    fn expected_keywords(&self) -> Vec<&'static str> {
        self.expected_rules
            .iter()
            .filter_map(|rule| keyword_text(*rule))
            .collect()
    }

    fn into_diagnostic(self) -> Diagnostic {
        let select_is_empty = self.expects_operand() && self.found_ends_a_clause();
        if let Some(select) = self.previous_is("select").filter(|_| select_is_empty) {
            return self.empty_select(select);
        }
        if let Some(comma) = self.previous_is(",") {
            if self.ends_a_list() {
                return self.trailing_comma(comma);
            }
        }
        let at_start = self.is_first_token || self.found.is_none() && self.previous.is_none();
        // A one-line query is a single `from ...`; only a query file (which may also start with
        // `use`) uses modules.
        let found_use = self
            .found_word()
            .is_some_and(|word| word.eq_ignore_ascii_case("use"));
        if self.is_first_token && found_use && !self.expects(Rule::kw_use) {
            return self.use_outside_file();
        }
        if self.expects(Rule::kw_from)
            && self.suggestion().is_none()
            && (at_start || self.found_word().is_some())
        {
            return self.missing_from();
        }
        if let Some(word) = self.found_reserved().filter(|_| self.expects_operand()) {
            return self.keyword_as_name(word);
        }
        self.unexpected()
    }

    /// The found token cannot start an expression: end of input, a keyword, `,` `;` `)`.
    fn found_ends_a_clause(&self) -> bool {
        match self.found {
            None => true,
            Some(token) => {
                let text = token.text(self.src);
                self.found_reserved().is_some() || matches!(text, "," | ";" | ")" | "]")
            }
        }
    }

    /// The found token ends the list: nothing can follow the comma any more.
    fn ends_a_list(&self) -> bool {
        match self.found {
            None => true,
            Some(token) => {
                let text = token.text(self.src);
                text == ")"
                    || text == ";"
                    || CLAUSE_ORDER
                        .iter()
                        .any(|clause| clause.eq_ignore_ascii_case(text))
            }
        }
    }

    fn suggestion(&self) -> Option<&'static str> {
        let word = self.found_word()?;
        nearest_names(word, self.expected_keywords(), 1)
            .first()
            .copied()
    }

    fn expected_phrase(&self) -> String {
        match self.expected.as_slice() {
            [] => "something else".to_string(),
            [only] => (*only).to_string(),
            [rest @ .., last] => format!("one of {} or {last}", rest.join(", ")),
        }
    }

    fn unexpected(&self) -> Diagnostic {
        let found = self.found_description();
        let label = match self.found {
            None => format!("expected {} here", self.expected_phrase()),
            Some(_) => "unexpected here".to_string(),
        };
        let mut diagnostic = Diagnostic::error(
            codes::PARSE_UNEXPECTED,
            format!("expected {}, found {found}", self.expected_phrase()),
        )
        .with_primary(self.found_span(), label);
        if self
            .found_word()
            .is_some_and(|word| word.eq_ignore_ascii_case("from"))
            && self.expects(Rule::EOI)
        {
            diagnostic = diagnostic
                .with_note("help: a query argument holds one query; put several in a query file");
        }
        if let Some(keyword) = self.suggestion() {
            diagnostic = diagnostic.with_note(format!("help: did you mean `{keyword}`?"));
        } else if let Some(note) = self.clause_order_note() {
            diagnostic = diagnostic.with_note(note);
        }
        diagnostic
    }

    /// A clause keyword that is valid in a query, but not at this point.
    fn clause_order_note(&self) -> Option<String> {
        let word = self.found_word()?.to_ascii_lowercase();
        CLAUSE_ORDER.contains(&word.as_str()).then(|| {
            "note: clauses go in this order: from, join, select, where, group by, having, order by, limit"
                .to_string()
        })
    }

    fn empty_select(&self, select: Token) -> Diagnostic {
        Diagnostic::error(codes::PARSE_EMPTY_SELECT, "empty select list")
            .with_primary(Span::new(self.file, select.start, select.end), "`select` needs at least one expression")
            .with_secondary(self.found_span(), format!("found {} instead", self.found_description()))
            .with_note("help: list what to show (`select pid, comm`), write `select *` for the default columns, or leave out `select`")
    }

    fn trailing_comma(&self, comma: Token) -> Diagnostic {
        Diagnostic::error(codes::PARSE_TRAILING_COMMA, "trailing comma")
            .with_primary(
                Span::new(self.file, comma.start, comma.end),
                "remove this comma",
            )
            .with_secondary(
                self.found_span(),
                format!("the list ends at {}", self.found_description()),
            )
    }

    fn missing_from(&self) -> Diagnostic {
        let found = self.found_description();
        Diagnostic::error(
            codes::PARSE_MISSING_FROM,
            format!("expected {}, found {found}", self.expected_phrase()),
        )
        .with_primary(self.found_span(), "a query starts with `from <target>`")
        .with_note("help: name the target first, e.g. `from task select pid, comm where uid == 0`")
    }

    fn use_outside_file(&self) -> Diagnostic {
        Diagnostic::error(
            codes::PARSE_USE_OUTSIDE_FILE,
            "`use` in a one-line query: modules are used by query files",
        )
        .with_primary(self.found_span(), "a one-line query starts with `from <target>`")
        .with_note("help: put the `use` line and the query in a file and run it with `bpfq -f FILE` or `bpfq run FILE`")
    }

    fn keyword_as_name(&self, word: &str) -> Diagnostic {
        Diagnostic::error(
            codes::PARSE_KEYWORD_AS_NAME,
            format!(
                "expected {}, found keyword `{word}`",
                self.expected_phrase()
            ),
        )
        .with_primary(self.found_span(), "this is a reserved word")
        .with_note(format!(
            "help: to use it as a name, write it in backquotes: `` `{word}` ``"
        ))
    }
}

/// The expected tokens in words: deduplicated, operator keywords folded into "an
/// operator" / "an expression", clauses in query order, `;` and end of input last.
fn expected_words(positives: &[Rule]) -> Vec<&'static str> {
    let mut words: Vec<&'static str> = Vec::new();
    for rule in positives {
        let text = describe_rule(*rule);
        if !words.contains(&text) {
            words.push(text);
        }
    }
    let has_operator = words.contains(&"an operator");
    let has_operand = words.contains(&"an expression");
    words.retain(|text| {
        let operator_part = matches!(
            *text,
            "`and` or `or`" | "`not`" | "`like`" | "`in`" | "`is`" | "`(`" | "`[`" | "`.`"
        );
        !(has_operator && operator_part || has_operand && *text == "`not`")
    });
    let rank = |text: &&str| {
        let clause = CLAUSE_ORDER
            .iter()
            .position(|clause| text.trim_matches('`').split(' ').next() == Some(clause));
        match (*text, clause) {
            ("end of input", _) => 3,
            ("`;`", _) => 2,
            (_, Some(_)) => 0,
            _ => 1,
        }
    };
    words.sort_by_key(|text| {
        let clause = CLAUSE_ORDER
            .iter()
            .position(|clause| text.trim_matches('`').split(' ').next() == Some(clause))
            .unwrap_or(0);
        (rank(text), clause)
    });
    words
}

fn keyword_text(rule: Rule) -> Option<&'static str> {
    let text = match rule {
        Rule::kw_from | Rule::query => "from",
        Rule::kw_select | Rule::select_clause => "select",
        Rule::kw_where | Rule::where_clause => "where",
        Rule::kw_group | Rule::group_clause => "group",
        Rule::kw_by => "by",
        Rule::kw_having | Rule::having_clause => "having",
        Rule::kw_order | Rule::order_clause => "order",
        Rule::kw_limit | Rule::limit_clause => "limit",
        Rule::kw_join | Rule::join => "join",
        Rule::kw_on => "on",
        Rule::kw_as | Rule::op_cast => "as",
        Rule::kw_and | Rule::op_and => "and",
        Rule::kw_or | Rule::op_or => "or",
        Rule::kw_not => "not",
        Rule::kw_like | Rule::op_like => "like",
        Rule::kw_in | Rule::op_in => "in",
        Rule::kw_is | Rule::op_is_null => "is",
        Rule::kw_null => "null",
        Rule::kw_true => "true",
        Rule::kw_false => "false",
        Rule::kw_asc => "asc",
        Rule::kw_desc => "desc",
        Rule::kw_distinct => "distinct",
        Rule::kw_cast => "cast",
        Rule::kw_struct => "struct",
        Rule::kw_count => "count",
        Rule::kw_use | Rule::use_decl => "use",
        Rule::kw_param | Rule::param_decl => "param",
        Rule::kw_query | Rule::query_decl => "query",
        Rule::kw_metric | Rule::metric_decl => "metric",
        Rule::kw_column | Rule::column_decl => "column",
        Rule::kw_defaults | Rule::defaults_decl => "defaults",
        _ => return None,
    };
    Some(text)
}

/// Words for every grammar rule; exhaustive so that a new rule cannot leak its name.
pub fn describe_rule(rule: Rule) -> &'static str {
    match rule {
        Rule::kw_from | Rule::query => "`from`",
        Rule::kw_select | Rule::select_clause => "`select`",
        Rule::kw_where | Rule::where_clause => "`where`",
        Rule::kw_group | Rule::group_clause => "`group by`",
        Rule::kw_by => "`by`",
        Rule::kw_having | Rule::having_clause => "`having`",
        Rule::kw_order | Rule::order_clause => "`order by`",
        Rule::kw_limit | Rule::limit_clause => "`limit`",
        Rule::kw_join | Rule::join => "`join`",
        Rule::kw_on => "`on`",
        Rule::kw_as | Rule::op_cast => "`as`",
        Rule::kw_asc | Rule::kw_desc => "`asc` or `desc`",
        Rule::kw_distinct => "`distinct`",
        Rule::kw_cast => "`cast`",
        Rule::kw_struct => "`struct`",
        Rule::kw_count => "`count`",
        Rule::kw_use | Rule::use_decl => "`use`",
        Rule::kw_param | Rule::param_decl => "`param`",
        Rule::kw_query | Rule::query_decl => "`query`",
        Rule::kw_metric | Rule::metric_decl => "`metric`",
        Rule::kw_column | Rule::column_decl => "`column`",
        Rule::kw_defaults | Rule::defaults_decl => "`defaults`",
        Rule::kw_null => "`null`",
        Rule::kw_true | Rule::kw_false => "`true` or `false`",
        Rule::kw_not => "`not`",
        Rule::kw_like => "`like`",
        Rule::kw_in => "`in`",
        Rule::kw_is => "`is`",
        Rule::kw_and | Rule::kw_or => "`and` or `or`",
        Rule::op_or
        | Rule::op_and
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_le
        | Rule::op_ge
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_like
        | Rule::op_not_like
        | Rule::op_in
        | Rule::op_not_in
        | Rule::op_is_null
        | Rule::op_not_null
        | Rule::op_bitor
        | Rule::op_concat
        | Rule::op_bitxor
        | Rule::op_bitand
        | Rule::op_shl
        | Rule::op_shr
        | Rule::op_add
        | Rule::op_sub
        | Rule::op_mul
        | Rule::op_div
        | Rule::op_rem => "an operator",
        Rule::op_not
        | Rule::op_neg
        | Rule::op_bitnot
        | Rule::expr
        | Rule::expr_nocast
        | Rule::primary
        | Rule::count_star
        | Rule::cast_call
        | Rule::call
        | Rule::paren
        | Rule::select_item
        | Rule::order_key => "an expression",
        Rule::ident | Rule::word | Rule::quoted | Rule::quoted_name | Rule::field_name => "a name",
        Rule::reserved => "a keyword",
        Rule::source => "a target name",
        Rule::source_params => "`(`",
        Rule::source_param => "a parameter name",
        Rule::expr_list_paren => "a parenthesised list",
        Rule::field_access => "`.`",
        Rule::subscript => "`[`",
        Rule::integer => "a number",
        Rule::string | Rule::string_body => "a string",
        Rule::param_ref => "a parameter (`$name`)",
        Rule::type_name => "a type",
        Rule::literal => "a literal value",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::comma => "`,`",
        Rule::semicolon => "`;`",
        Rule::dot => "`.`",
        Rule::colon => "`:`",
        Rule::equals => "`=`",
        Rule::star => "`*`",
        Rule::alt => "`??`",
        Rule::query_input | Rule::module_input => "a query",
        Rule::EOI => "end of input",
        // silent rules: pest never reports them, but every rule needs words
        Rule::infix_op | Rule::postfix_op | Rule::postfix_op_nocast => "an operator",
        Rule::prefix_op | Rule::atom => "an expression",
        Rule::path_suffix => "`.` or `[`",
        Rule::item => "a query or a declaration",
        Rule::ident_char => "a name",
        Rule::WHITESPACE | Rule::COMMENT => "a space",
    }
}
