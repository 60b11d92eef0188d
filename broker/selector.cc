#include "broker/selector.h"

#include <charconv>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

namespace tandem::broker {
namespace {

// ---- compiled form -------------------------------------------------------------------------

enum class tri : std::uint8_t { false_, true_, unknown };

tri negate(tri v) {
  return v == tri::unknown ? v : (v == tri::true_ ? tri::false_ : tri::true_);
}
tri from_bool(bool b) { return b ? tri::true_ : tri::false_; }

struct operand {
  enum class kind : std::uint8_t { header, delivery_mode, string, number, boolean };
  kind k = kind::string;
  std::string text;  // header name, or the string literal
  double number = 0;
  bool boolean = false;
  bool is_header() const { return k == kind::header || k == kind::delivery_mode; }
};

enum class cmp_op : std::uint8_t { eq, ne, lt, gt, le, ge };

struct like_elem {
  enum class kind : std::uint8_t { literal, one, any };
  kind k;
  char c = 0;
};

struct node {
  enum class kind : std::uint8_t { or_, and_, not_, compare, between, in, like, is_null, truth };
  explicit node(kind kind) : k(kind) {}
  kind k;
  cmp_op op = cmp_op::eq;
  bool negated = false;              // NOT BETWEEN / NOT IN / NOT LIKE / IS NOT NULL
  std::vector<int> children;         // or_, and_ (n-ary, so long chains stay shallow), not_
  operand a, b, c;                   // compare: a op b; between: a BETWEEN b AND c; else a
  std::vector<operand> list;         // in
  std::vector<like_elem> pattern;    // like
};

}  // namespace

struct selector::program {
  std::vector<node> nodes;
  int root = -1;
};

namespace {

// ---- evaluation ------------------------------------------------------------------------------

struct value {
  enum class kind : std::uint8_t { null, string, number, boolean };
  kind k = kind::null;
  bool from_header = false;
  std::string_view s;
  double n = 0;
  bool b = false;
};

std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  // from_chars also accepts "inf" and "nan"; a header value of "nan" is not a number here.
  const char first = s.front() == '-' && s.size() > 1 ? s[1] : s.front();
  if (!(first >= '0' && first <= '9') && first != '.') return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return d;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x -= 32;
    if (y >= 'a' && y <= 'z') y -= 32;
    if (x != y) return false;
  }
  return true;
}

std::optional<bool> parse_bool(std::string_view s) {
  if (iequals(s, "true")) return true;
  if (iequals(s, "false")) return false;
  return std::nullopt;
}

value eval(const operand& o, const selector::lookup& headers) {
  value v;
  switch (o.k) {
    case operand::kind::header:
      if (auto h = headers(o.text)) {
        v.k = value::kind::string;
        v.from_header = true;
        v.s = *h;
      }
      break;
    case operand::kind::delivery_mode: {
      // A missing persistent header means a non-persistent message, so this is never NULL.
      const auto h = headers(o.text);
      v.k = value::kind::string;
      v.s = h && *h == "true" ? "PERSISTENT" : "NON_PERSISTENT";
      break;
    }
    case operand::kind::string:
      v.k = value::kind::string;
      v.s = o.text;
      break;
    case operand::kind::number:
      v.k = value::kind::number;
      v.n = o.number;
      break;
    case operand::kind::boolean:
      v.k = value::kind::boolean;
      v.b = o.boolean;
      break;
  }
  return v;
}

template <typename T>
tri apply(cmp_op op, const T& x, const T& y) {
  switch (op) {
    case cmp_op::eq: return from_bool(x == y);
    case cmp_op::ne: return from_bool(x != y);
    case cmp_op::lt: return from_bool(x < y);
    case cmp_op::gt: return from_bool(x > y);
    case cmp_op::le: return from_bool(x <= y);
    case cmp_op::ge: return from_bool(x >= y);
  }
  return tri::unknown;
}

tri compare(cmp_op op, const value& x, const value& y) {
  using k = value::kind;
  if (x.k == k::null || y.k == k::null) return tri::unknown;
  if (x.k == k::number || y.k == k::number) {
    auto as_number = [](const value& v) -> std::optional<double> {
      if (v.k == k::number) return v.n;
      if (v.k == k::string) return parse_number(v.s);
      return std::nullopt;
    };
    const auto a = as_number(x), b = as_number(y);
    if (!a || !b) return tri::unknown;
    return apply(op, *a, *b);
  }
  if (x.k == k::boolean || y.k == k::boolean) {
    auto as_bool = [](const value& v) -> std::optional<bool> {
      return v.k == k::boolean ? std::optional<bool>(v.b) : parse_bool(v.s);
    };
    const auto a = as_bool(x), b = as_bool(y);
    if (!a || !b || (op != cmp_op::eq && op != cmp_op::ne)) return tri::unknown;
    return apply(op, *a, *b);
  }
  if (x.from_header && y.from_header) {
    const auto a = parse_number(x.s), b = parse_number(y.s);
    if (a && b) return apply(op, *a, *b);
  }
  return apply(op, x.s, y.s);
}

std::size_t code_point_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xe) return 3;
  if ((c >> 3) == 0x1e) return 4;
  return 1;  // stray continuation byte: step over it alone
}

// Wildcard match with backtracking to the last '%' only: O(pattern * text) worst case, no
// allocation.
bool like_match(const std::vector<like_elem>& p, std::string_view s) {
  using k = like_elem::kind;
  std::size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi].k == k::one) {
      ++pi;
      si += std::min(code_point_length(s[si]), s.size() - si);
    } else if (pi < p.size() && p[pi].k == k::literal && p[pi].c == s[si]) {
      ++pi;
      ++si;
    } else if (pi < p.size() && p[pi].k == k::any) {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      mark += std::min(code_point_length(s[mark]), s.size() - mark);
      si = mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi].k == k::any) ++pi;
  return pi == p.size();
}

tri eval(const selector::program& prog, int index, const selector::lookup& headers) {
  const node& n = prog.nodes[index];
  switch (n.k) {
    case node::kind::or_: {
      tri r = tri::false_;
      for (int child : n.children) {
        const tri v = eval(prog, child, headers);
        if (v == tri::true_) return v;
        if (v == tri::unknown) r = v;
      }
      return r;
    }
    case node::kind::and_: {
      tri r = tri::true_;
      for (int child : n.children) {
        const tri v = eval(prog, child, headers);
        if (v == tri::false_) return v;
        if (v == tri::unknown) r = v;
      }
      return r;
    }
    case node::kind::not_:
      return negate(eval(prog, n.children[0], headers));
    case node::kind::compare:
      return compare(n.op, eval(n.a, headers), eval(n.b, headers));
    case node::kind::between: {
      const value x = eval(n.a, headers);
      const tri lo = compare(cmp_op::ge, x, eval(n.b, headers));
      const tri hi = compare(cmp_op::le, x, eval(n.c, headers));
      tri r = lo == tri::false_ || hi == tri::false_ ? tri::false_
              : lo == tri::true_ && hi == tri::true_ ? tri::true_
                                                     : tri::unknown;
      return n.negated ? negate(r) : r;
    }
    case node::kind::in: {
      const value x = eval(n.a, headers);
      if (x.k == value::kind::null) return tri::unknown;
      tri r = tri::false_;
      for (const operand& item : n.list) {
        const tri v = compare(cmp_op::eq, x, eval(item, headers));
        if (v == tri::true_) {
          r = v;
          break;
        }
        if (v == tri::unknown) r = v;
      }
      return n.negated ? negate(r) : r;
    }
    case node::kind::like: {
      const value x = eval(n.a, headers);
      if (x.k == value::kind::null) return tri::unknown;
      const bool m = like_match(n.pattern, x.s);
      return from_bool(m != n.negated);
    }
    case node::kind::is_null: {
      const bool null = eval(n.a, headers).k == value::kind::null;
      return from_bool(null != n.negated);
    }
    case node::kind::truth: {
      const value x = eval(n.a, headers);
      if (x.k == value::kind::boolean) return from_bool(x.b);
      if (x.k != value::kind::string) return tri::unknown;
      const auto b = parse_bool(x.s);
      return b ? from_bool(*b) : tri::unknown;
    }
  }
  return tri::unknown;
}

}  // namespace

namespace {

// ---- lexer -----------------------------------------------------------------------------------

enum class tok : std::uint8_t {
  end, ident, string, number, lparen, rparen, comma, eq, ne, lt, gt, le, ge,
  kw_and, kw_or, kw_not, kw_in, kw_like, kw_escape, kw_is, kw_null, kw_between, kw_true, kw_false
};

struct token {
  tok kind;
  std::size_t pos;       // 1-based position of the first character
  std::string_view raw;  // as written
  std::string text;      // string literal contents (quotes undone)
  double number = 0;
};

// Syntax errors unwind the recursive descent to selector::parse(), which turns them into a
// result; they never leave this file.
struct syntax_error {
  std::string message;
};

[[noreturn]] void fail(std::string message) { throw syntax_error{"selector: " + std::move(message)}; }

bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
bool ident_part(char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '.'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

tok keyword(std::string_view word) {
  static constexpr std::pair<std::string_view, tok> keywords[] = {
      {"AND", tok::kw_and},   {"OR", tok::kw_or},       {"NOT", tok::kw_not},
      {"IN", tok::kw_in},     {"LIKE", tok::kw_like},   {"ESCAPE", tok::kw_escape},
      {"IS", tok::kw_is},     {"NULL", tok::kw_null},   {"BETWEEN", tok::kw_between},
      {"TRUE", tok::kw_true}, {"FALSE", tok::kw_false}};
  for (const auto& [k, t] : keywords)
    if (iequals(word, k)) return t;
  return tok::ident;
}

std::vector<token> lex(std::string_view text) {
  std::vector<token> out;
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto at = [&](std::size_t j) { return j < n ? text[j] : '\0'; };
  while (i < n) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    token t{tok::end, start + 1, {}, {}, 0};
    if (c == '\'') {
      t.kind = tok::string;
      for (++i;; ++i) {
        if (i >= n) fail(fmt::format("unterminated string literal starting at position {}", start + 1));
        if (text[i] == '\'') {
          if (at(i + 1) != '\'') break;
          ++i;  // '' is one quote
        }
        t.text += text[i];
      }
      ++i;
    } else if (digit(c) || (c == '.' && digit(at(i + 1))) ||
               ((c == '-' || c == '+') && (digit(at(i + 1)) || (at(i + 1) == '.' && digit(at(i + 2)))))) {
      t.kind = tok::number;
      if (c == '-' || c == '+') ++i;
      while (digit(at(i)) || at(i) == '.') ++i;
      if (at(i) == 'e' || at(i) == 'E') {
        std::size_t j = i + 1;
        if (at(j) == '+' || at(j) == '-') ++j;
        if (digit(at(j))) {
          i = j;
          while (digit(at(i))) ++i;
        }
      }
      const auto parsed = parse_number(text.substr(start, i - start));
      if (!parsed || ident_part(at(i))) {
        while (ident_part(at(i))) ++i;
        fail(fmt::format("malformed number '{}' at position {}", text.substr(start, i - start),
                         start + 1));
      }
      t.number = *parsed;
    } else if (ident_start(c)) {
      while (ident_part(at(i))) ++i;
      t.kind = keyword(text.substr(start, i - start));
      if (at(i) == '-')
        fail(fmt::format("unexpected '-' at position {}: header names containing '-' cannot be "
                         "used in selectors, and arithmetic is not supported",
                         i + 1));
    } else {
      ++i;
      switch (c) {
        case '(': t.kind = tok::lparen; break;
        case ')': t.kind = tok::rparen; break;
        case ',': t.kind = tok::comma; break;
        case '=': t.kind = tok::eq; break;
        case '<':
          t.kind = at(i) == '>' ? tok::ne : at(i) == '=' ? tok::le : tok::lt;
          if (t.kind != tok::lt) ++i;
          break;
        case '>':
          t.kind = at(i) == '=' ? tok::ge : tok::gt;
          if (t.kind == tok::ge) ++i;
          break;
        case '!':
          if (at(i) == '=') fail(fmt::format("unexpected '!=' at position {}: use '<>'", start + 1));
          [[fallthrough]];
        default:
          if (c == '+' || c == '-' || c == '*' || c == '/')
            fail(fmt::format("unexpected '{}' at position {}: arithmetic is not supported", c, start + 1));
          if (c == '"')
            fail(fmt::format("unexpected '\"' at position {}: string literals use single quotes",
                             start + 1));
          fail(fmt::format("unexpected character '{}' at position {}", c, start + 1));
      }
    }
    t.raw = text.substr(start, i - start);
    out.push_back(std::move(t));
  }
  out.push_back(token{tok::end, n + 1, {}, {}, 0});
  return out;
}

// ---- recursive descent -----------------------------------------------------------------------

constexpr int max_depth = 100;  // parentheses and NOTs; keeps evaluation recursion bounded

class grammar {
 public:
  grammar(std::vector<token> tokens, selector::program& prog)
      : toks_(std::move(tokens)), prog_(prog) {}

  int parse_all() {
    const int root = parse_or(0);
    if (peek().kind != tok::end)
      fail(fmt::format("unexpected {} at position {} (expected AND, OR or the end)",
                       quoted(peek()), peek().pos));
    return root;
  }

 private:
  const token& peek() const { return toks_[i_]; }
  const token& take() { return toks_[i_++]; }
  bool accept(tok k) {
    if (peek().kind != k) return false;
    ++i_;
    return true;
  }
  // A token as the user wrote it, in quotes unless it is a string literal (quoted already).
  static std::string quoted(const token& t) {
    if (t.kind == tok::end) return "the end";
    if (t.kind == tok::string) return std::string(t.raw);
    return fmt::format("'{}'", t.raw);
  }

  [[noreturn]] void expected(std::string_view what) const {
    const token& t = peek();
    if (i_ == 0) fail(fmt::format("expected {} at position {}, got {}", what, t.pos, quoted(t)));
    fail(fmt::format("expected {} after {} at position {}, got {}", what, quoted(toks_[i_ - 1]),
                     t.pos, quoted(t)));
  }

  int add(node n) {
    prog_.nodes.push_back(std::move(n));
    return static_cast<int>(prog_.nodes.size()) - 1;
  }

  int parse_or(int depth) {
    int first = parse_and(depth);
    if (peek().kind != tok::kw_or) return first;
    node n(node::kind::or_);
    n.children.push_back(first);
    while (accept(tok::kw_or)) n.children.push_back(parse_and(depth));
    return add(std::move(n));
  }

  int parse_and(int depth) {
    int first = parse_not(depth);
    if (peek().kind != tok::kw_and) return first;
    node n(node::kind::and_);
    n.children.push_back(first);
    while (accept(tok::kw_and)) n.children.push_back(parse_not(depth));
    return add(std::move(n));
  }

  int parse_not(int depth) {
    if (depth > max_depth)
      fail(fmt::format("nesting deeper than {} at position {}", max_depth, peek().pos));
    if (accept(tok::kw_not)) {
      node n(node::kind::not_);
      n.children.push_back(parse_not(depth + 1));
      return add(std::move(n));
    }
    return parse_predicate(depth);
  }

  bool starts_value(tok k) const {
    return k == tok::ident || k == tok::string || k == tok::number || k == tok::kw_true ||
           k == tok::kw_false;
  }

  operand to_operand(const token& t) const {
    operand o;
    switch (t.kind) {
      case tok::ident: {
        o.k = operand::kind::header;
        o.text = jms_header(t.raw);
        if (t.raw == "JMSDeliveryMode") o.k = operand::kind::delivery_mode;
        break;
      }
      case tok::string: o.k = operand::kind::string; o.text = t.text; break;
      case tok::number: o.k = operand::kind::number; o.number = t.number; break;
      case tok::kw_true: o.k = operand::kind::boolean; o.boolean = true; break;
      case tok::kw_false: o.k = operand::kind::boolean; o.boolean = false; break;
      default: break;
    }
    return o;
  }

  static std::string jms_header(std::string_view name) {
    static constexpr std::pair<std::string_view, std::string_view> map[] = {
        {"JMSPriority", "priority"},       {"JMSMessageID", "message-id"},
        {"JMSTimestamp", "timestamp"},     {"JMSCorrelationID", "correlation-id"},
        {"JMSType", "type"},               {"JMSExpiration", "expires"},
        {"JMSDeliveryMode", "persistent"}};
    for (const auto& [jms, header] : map)
      if (name == jms) return std::string(header);
    return std::string(name);
  }

  operand parse_value(std::string_view what) {
    if (!starts_value(peek().kind)) expected(what);
    return to_operand(take());
  }

  operand parse_literal(std::string_view what) {
    const tok k = peek().kind;
    if (k != tok::string && k != tok::number && k != tok::kw_true && k != tok::kw_false)
      expected(what);
    return to_operand(take());
  }

  void require_header(const operand& a, const token& op) const {
    if (!a.is_header())
      fail(fmt::format("{} needs a header name on its left, at position {}", op.raw, op.pos));
  }

  int parse_predicate(int depth) {
    if (accept(tok::lparen)) {
      const int inner = parse_or(depth + 1);
      if (!accept(tok::rparen)) expected("')'");
      return inner;
    }
    if (!starts_value(peek().kind)) expected("a condition");
    const token& first = take();
    node n(node::kind::compare);
    n.a = to_operand(first);

    switch (peek().kind) {
      case tok::eq: case tok::ne: case tok::lt: case tok::gt: case tok::le: case tok::ge: {
        static constexpr cmp_op ops[] = {cmp_op::eq, cmp_op::ne, cmp_op::lt,
                                         cmp_op::gt, cmp_op::le, cmp_op::ge};
        n.op = ops[static_cast<int>(take().kind) - static_cast<int>(tok::eq)];
        n.b = parse_value("a value");
        return add(std::move(n));
      }
      case tok::kw_not:
        take();
        n.negated = true;
        if (peek().kind != tok::kw_between && peek().kind != tok::kw_in &&
            peek().kind != tok::kw_like)
          expected("BETWEEN, IN or LIKE");
        break;
      default: break;
    }

    const token& op = peek();
    switch (op.kind) {
      case tok::kw_between:
        take();
        n.k = node::kind::between;
        n.b = parse_value("a value");
        if (!accept(tok::kw_and)) expected("AND");
        n.c = parse_value("a value");
        return add(std::move(n));
      case tok::kw_in:
        require_header(n.a, op);
        take();
        n.k = node::kind::in;
        if (!accept(tok::lparen)) expected("'('");
        do {
          n.list.push_back(parse_literal("a string or number"));
        } while (accept(tok::comma));
        if (!accept(tok::rparen)) expected("',' or ')'");
        return add(std::move(n));
      case tok::kw_like: {
        require_header(n.a, op);
        take();
        n.k = node::kind::like;
        if (peek().kind != tok::string) expected("a quoted pattern");
        const token& pattern = take();
        std::optional<char> escape;
        if (accept(tok::kw_escape)) {
          if (peek().kind != tok::string) expected("a quoted escape character");
          const token& e = take();
          if (e.text.size() != 1)
            fail(fmt::format("ESCAPE must be a single character, got '{}' at position {}", e.text,
                             e.pos));
          escape = e.text[0];
        }
        n.pattern = compile_like(pattern, escape);
        return add(std::move(n));
      }
      case tok::kw_is:
        require_header(n.a, op);
        take();
        n.k = node::kind::is_null;
        n.negated = accept(tok::kw_not);
        if (!accept(tok::kw_null)) expected(n.negated ? "NULL" : "NULL or NOT NULL");
        return add(std::move(n));
      default:
        break;
    }
    // A lone header name or boolean literal is a condition of its own.
    if (n.a.is_header() || n.a.k == operand::kind::boolean) {
      n.k = node::kind::truth;
      return add(std::move(n));
    }
    expected("a comparison operator");
  }

  static std::vector<like_elem> compile_like(const token& t, std::optional<char> escape) {
    std::vector<like_elem> out;
    const std::string& p = t.text;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const char c = p[i];
      if (escape && c == *escape) {
        if (i + 1 == p.size())
          fail(fmt::format("LIKE pattern '{}' at position {} ends with its escape character", p,
                           t.pos));
        out.push_back({like_elem::kind::literal, p[++i]});
      } else if (c == '%') {
        if (out.empty() || out.back().k != like_elem::kind::any) out.push_back({like_elem::kind::any});
      } else if (c == '_') {
        out.push_back({like_elem::kind::one});
      } else {
        out.push_back({like_elem::kind::literal, c});
      }
    }
    return out;
  }

  std::vector<token> toks_;
  std::size_t i_ = 0;
  selector::program& prog_;
};

bool blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

result<selector> selector::parse(std::string_view text) {
  if (blank(text)) return selector(std::string(text), nullptr);
  auto prog = std::make_shared<program>();
  try {
    grammar g(lex(text), *prog);
    prog->root = g.parse_all();
  } catch (const syntax_error& e) {
    return error{std::make_error_code(std::errc::invalid_argument), e.message};
  }
  return selector(std::string(text), std::move(prog));
}

bool selector::matches(const lookup& headers) const {
  if (!program_) return true;
  return eval(*program_, program_->root, headers) == tri::true_;
}

}  // namespace tandem::broker
