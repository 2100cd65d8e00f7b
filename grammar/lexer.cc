#include "grammar/lexer.h"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace fb::grammar {
namespace {

struct TokenInfo {
  std::string_view name;
  std::string_view text;  // description (FB_TOKEN) or spelling
  bool literal;           // keyword or punctuation
};

constexpr std::array kTokenInfo = {
    TokenInfo{"EOF", "end of file", false},
#define FB_TOKEN(name, text) TokenInfo{#name, text, false},
#define FB_KEYWORD(name, text) TokenInfo{#name, text, true},
#define FB_PUNCT(name, text) TokenInfo{#name, text, true},
#include "grammar/tokens.def"
#undef FB_TOKEN
#undef FB_KEYWORD
#undef FB_PUNCT
};

constexpr std::pair<std::string_view, Tok> kKeywords[] = {
    {"and", Tok::AND},       {"break", Tok::BREAK}, {"continue", Tok::CONTINUE},
    {"def", Tok::DEF},       {"elif", Tok::ELIF},   {"else", Tok::ELSE},
    {"for", Tok::FOR},       {"if", Tok::IF},       {"in", Tok::IN},
    {"lambda", Tok::LAMBDA}, {"load", Tok::LOAD},   {"not", Tok::NOT},
    {"or", Tok::OR},         {"pass", Tok::PASS},   {"return", Tok::RETURN},
    {"while", Tok::WHILE},
};

// Python keywords Starlark reserves (as starlark-go does; `assert` stays a name).
constexpr std::string_view kReserved[] = {"as",    "class",  "del",    "except", "finally",
                                          "from",  "global", "import", "is",     "nonlocal",
                                          "raise", "try",    "with",   "yield"};

// Punctuation, longest first so that maximal munch is a first-match scan.
constexpr std::pair<std::string_view, Tok> kPunct[] = {
    {"//=", Tok::SLASHSLASH_EQ},
    {"<<=", Tok::LSHIFT_EQ},
    {">>=", Tok::RSHIFT_EQ},
    {"**", Tok::STARSTAR},
    {"//", Tok::SLASHSLASH},
    {"<<", Tok::LSHIFT},
    {">>", Tok::RSHIFT},
    {"==", Tok::EQ},
    {"!=", Tok::NE},
    {"<=", Tok::LE},
    {">=", Tok::GE},
    {"+=", Tok::PLUS_EQ},
    {"-=", Tok::MINUS_EQ},
    {"*=", Tok::STAR_EQ},
    {"/=", Tok::SLASH_EQ},
    {"%=", Tok::PERCENT_EQ},
    {"&=", Tok::AMP_EQ},
    {"|=", Tok::PIPE_EQ},
    {"^=", Tok::CARET_EQ},
    {"(", Tok::LPAREN},
    {")", Tok::RPAREN},
    {"[", Tok::LBRACK},
    {"]", Tok::RBRACK},
    {"{", Tok::LBRACE},
    {"}", Tok::RBRACE},
    {",", Tok::COMMA},
    {":", Tok::COLON},
    {";", Tok::SEMI},
    {".", Tok::DOT},
    {"=", Tok::ASSIGN},
    {"+", Tok::PLUS},
    {"-", Tok::MINUS},
    {"*", Tok::STAR},
    {"/", Tok::SLASH},
    {"%", Tok::PERCENT},
    {"&", Tok::AMP},
    {"|", Tok::PIPE},
    {"^", Tok::CARET},
    {"~", Tok::TILDE},
    {"<>", Tok::NE},
    {"<", Tok::LT},
    {">", Tok::GT},
};

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Multiplies a little-endian base-2^32 number by `factor` and adds `addend`.
void bignum_mul_add(std::vector<std::uint32_t>& n, std::uint32_t factor, std::uint32_t addend) {
  std::uint64_t carry = addend;
  for (std::uint32_t& limb : n) {
    std::uint64_t v = static_cast<std::uint64_t>(limb) * factor + carry;
    limb = static_cast<std::uint32_t>(v);
    carry = v >> 32;
  }
  if (carry) n.push_back(static_cast<std::uint32_t>(carry));
}

/// Decimal digits of a little-endian base-2^32 number.
std::string bignum_to_decimal(std::vector<std::uint32_t> n) {
  std::string digits;
  while (!(n.empty() || (n.size() == 1 && n[0] == 0))) {
    std::uint64_t rem = 0;
    for (std::size_t i = n.size(); i-- > 0;) {
      std::uint64_t cur = (rem << 32) | n[i];
      n[i] = static_cast<std::uint32_t>(cur / 10);
      rem = cur % 10;
    }
    digits += static_cast<char>('0' + rem);
    while (!n.empty() && n.back() == 0) n.pop_back();
  }
  if (digits.empty()) digits = "0";
  return std::string(digits.rbegin(), digits.rend());
}

/// A short, printable rendering of one source character for messages: 'x' for
/// printable ASCII, U+XXXX for other characters, "byte 0xNN" for malformed UTF-8.
std::string show_char(std::string_view text, std::size_t at) {
  auto c = static_cast<unsigned char>(text[at]);
  if (c >= 0x21 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  char buf[16];
  char32_t cp = 0;
  if (decode_utf8(text, at, cp) == 0) {
    std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  } else {
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  }
  return buf;
}

/// Bytes to skip for one character: a whole well-formed sequence, else one byte.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  char32_t cp = 0;
  return std::max<std::size_t>(decode_utf8(text, at, cp), 1);
}

class Scanner {
 public:
  Scanner(const SourceFile& file, DiagnosticSink& sink)
      : file_(file), text_(file.text()), sink_(sink) {}

  LexResult run() {
    indents_.push_back("");
    for (;;) {
      while (!stop_) {
        if (at_line_start_) {
          if (!scan_indentation()) continue;
        }
        if (pos_ >= text_.size()) break;
        scan_token();
      }
      // A bracket still open at the end: the file is invalid anyway, so re-read it as
      // closed before the first line that looked like a new statement, and go on from
      // there; errors after the missing ')' are then found too.
      if (stop_ || brackets_.empty() || !restart_ || restarts_ >= kMaxRestarts) break;
      rewind(*restart_);
    }
    finish();
    return std::move(result_);
  }

 private:
  struct OpenBracket {
    char ch;
    std::uint32_t offset;
    std::uint32_t line_indent;  // indentation of the line the bracket opened on
  };

  /// Where lexing restarts if the outermost open bracket is never closed: the first
  /// line inside it that starts no further right than the line that opened it.
  struct Restart {
    std::size_t line_begin;
    std::size_t first_token;
    std::size_t token_count;
    std::size_t pending_count;
    std::vector<OpenBracket> brackets;
  };
  static constexpr int kMaxRestarts = 30;  // keeps lexing linear on hostile input

  void note_restart_point(std::size_t word_begin) {
    if (brackets_.empty() || restart_ || !first_on_physical_line(word_begin)) return;
    if (word_begin - physical_line_begin_ > brackets_.front().line_indent) return;
    restart_ = Restart{physical_line_begin_, word_begin, result_.tokens.size(), pending_.size(),
                       brackets_};
  }

  void rewind(const Restart& r) {
    result_.tokens.resize(r.token_count);
    pending_.resize(r.pending_count);
    brackets_ = r.brackets;
    physical_line_begin_ = r.line_begin;
    ++restarts_;
    close_brackets_before_statement(r.first_token);
    pos_ = r.first_token;
    at_line_start_ = false;
  }

  // ---- emitting ----------------------------------------------------------------------

  void emit(Tok type, std::size_t begin, std::size_t end, std::uint32_t value = 0) {
    result_.tokens.push_back(Token{type, static_cast<std::uint32_t>(begin),
                                   static_cast<std::uint32_t>(end - begin), value});
    line_has_tokens_ = true;
  }

  Span span(std::size_t begin, std::size_t end) const {
    return Span{file_.id(), static_cast<std::uint32_t>(begin),
                static_cast<std::uint32_t>(end - begin)};
  }

  Diagnostic& error(Code code, std::size_t begin, std::size_t end, std::string message) {
    pending_.push_back(Diagnostic::make(code, span(begin, end), std::move(message)));
    return pending_.back();
  }

  std::string location(std::uint32_t offset) const {
    LineCol at = file_.line_col(offset);
    return std::to_string(at.line) + ":" + std::to_string(at.col);
  }

  // ---- lines and indentation -------------------------------------------------------

  /// At the start of a physical line outside brackets: measures indentation, skips blank
  /// and comment-only lines, and emits INDENT/DEDENT. Returns false when the line was
  /// skipped (the caller loops).
  bool scan_indentation() {
    std::size_t begin = pos_;
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\f'))
      ++pos_;
    std::string_view indent = text_.substr(begin, pos_ - begin);
    if (pos_ >= text_.size()) return (at_line_start_ = false, true);
    char c = text_[pos_];
    if (c == '#') {
      skip_comment();
      return false;
    }
    if (c == '\n' || c == '\r') {
      skip_newline();
      return false;
    }
    if (c == '\\' && continuation_follows(pos_)) {
      // A line that starts with a continuation joins the next one; its indentation counts.
      at_line_start_ = false;
      apply_indentation(indent, begin);
      return true;
    }
    at_line_start_ = false;
    apply_indentation(indent, begin);
    return true;
  }

  void apply_indentation(std::string_view indent, std::size_t line_begin) {
    const std::string& current = indents_.back();
    if (indent == current) return;
    if (indent.size() > current.size() && indent.substr(0, current.size()) == current) {
      if (indents_.size() > kMaxIndentDepth) {
        error(
            Code::SPEC_INDENTATION, pos_, pos_,
            "blocks nested too deeply (more than " + std::to_string(kMaxIndentDepth) + " levels)");
        stop_ = true;
        return;
      }
      indents_.emplace_back(indent);
      emit(Tok::INDENT, pos_, pos_);
      return;
    }
    // A dedent must land exactly on an enclosing level.
    std::size_t level = indents_.size();
    while (level > 0 && indents_[level - 1].size() > indent.size()) --level;
    if (level > 0 && indents_[level - 1] == indent) {
      while (indents_.size() > level) {
        indents_.pop_back();
        emit(Tok::DEDENT, pos_, pos_);
      }
      return;
    }
    if (mixes_tabs_and_spaces(indent, current)) {
      error(Code::SPEC_INDENTATION, line_begin, pos_,
            "inconsistent use of tabs and spaces in indentation")
          .suggest("indent with spaces only (4 per level is conventional)");
    } else {
      error(Code::SPEC_INDENTATION, line_begin, pos_,
            "unindent does not match any outer indentation level");
    }
    // Recover as if the line were at the nearest enclosing level at or below it.
    while (indents_.size() > std::max<std::size_t>(level, 1)) {
      indents_.pop_back();
      emit(Tok::DEDENT, pos_, pos_);
    }
  }

  static bool mixes_tabs_and_spaces(std::string_view a, std::string_view b) {
    auto has = [](std::string_view s, char c) { return s.find(c) != std::string_view::npos; };
    return (has(a, '\t') || has(b, '\t')) && (has(a, ' ') || has(b, ' '));
  }

  void skip_comment() {
    while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
  }

  void skip_newline() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    at_line_start_ = brackets_.empty();
    physical_line_begin_ = pos_;
  }

  bool continuation_follows(std::size_t at) const {
    return at + 1 < text_.size() && (text_[at + 1] == '\n' || (text_[at + 1] == '\r'));
  }

  // ---- tokens -------------------------------------------------------------------------

  void scan_token() {
    char c = text_[pos_];
    if (c == ' ' || c == '\t' || c == '\f') {
      ++pos_;
      return;
    }
    if (c == '#') return skip_comment();
    if (c == '\n' || c == '\r') {
      if (brackets_.empty() && line_has_tokens_) {
        emit(Tok::NEWLINE, pos_, pos_ + 1);
        line_has_tokens_ = false;
      }
      skip_newline();
      return;
    }
    if (c == '\\') {
      if (continuation_follows(pos_)) {
        ++pos_;
        if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
        ++pos_;
        if (pos_ >= text_.size())
          error(Code::SPEC_SYNTAX, pos_ - 1, pos_, "line continuation at end of file");
        return;
      }
      error(Code::SPEC_SYNTAX, pos_, pos_ + 1,
            "unexpected '\\' (a line continuation must end the line)");
      ++pos_;
      return;
    }
    if (is_ident_start(c)) return scan_word();
    if (is_digit(c) || (c == '.' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))) {
      return scan_number();
    }
    if (c == '"' || c == '\'') return scan_string(pos_, pos_, false, false);
    scan_punct();
  }

  void scan_word() {
    std::size_t begin = pos_;
    while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
    std::string_view word = text_.substr(begin, pos_ - begin);
    if (pos_ < text_.size() && (text_[pos_] == '"' || text_[pos_] == '\'') && word.size() <= 2) {
      if (scan_prefixed_string(begin, word)) return;
    }
    note_restart_point(begin);
    for (const auto& [spelling, type] : kKeywords) {
      if (word != spelling) continue;
      if (!brackets_.empty() && starts_statement(type) && first_on_physical_line(begin)) {
        close_brackets_before_statement(begin);
      }
      return emit(type, begin, pos_);
    }
    // After a '.', a reserved word is an attribute name: the Redis step method
    // `cache.main.del(key=...)` is documented that way (starlark-go rejects it).
    bool after_dot = !result_.tokens.empty() && result_.tokens.back().type == Tok::DOT;
    for (std::string_view reserved : kReserved) {
      if (word == reserved && !after_dot) return emit(Tok::RESERVED, begin, pos_);
    }
    emit(Tok::NAME, begin, pos_);
  }

  /// Keywords that can only begin a statement, never appear inside an expression.
  static bool starts_statement(Tok type) {
    switch (type) {
      case Tok::DEF:
      case Tok::RETURN:
      case Tok::PASS:
      case Tok::BREAK:
      case Tok::CONTINUE:
      case Tok::ELIF:
      case Tok::WHILE:
      case Tok::LOAD: return true;
      default: return false;
    }
  }

  bool first_on_physical_line(std::size_t at) const {
    for (std::size_t i = physical_line_begin_; i < at; ++i) {
      if (text_[i] != ' ' && text_[i] != '\t' && text_[i] != '\f') return false;
    }
    return true;
  }

  /// A statement keyword starting a line inside brackets means a bracket was left open
  /// on an earlier line: report it there, close it, and lex this line as a new one, so
  /// one missing ')' does not swallow the rest of the file.
  void close_brackets_before_statement(std::size_t keyword_at) {
    report_unclosed();
    std::size_t at = last_token_end();
    for (std::size_t i = brackets_.size(); i-- > 0;) emit(closer_token(brackets_[i].ch), at, at);
    brackets_.clear();
    restart_.reset();
    emit(Tok::NEWLINE, at, at);
    line_has_tokens_ = false;
    std::string_view indent = text_.substr(physical_line_begin_, keyword_at - physical_line_begin_);
    std::size_t saved = pos_;
    pos_ = keyword_at;
    apply_indentation(indent, physical_line_begin_);
    pos_ = saved;
  }

  std::size_t last_token_end() const {
    if (result_.tokens.empty()) return 0;
    const Token& t = result_.tokens.back();
    return t.offset + t.length;
  }

  static Tok closer_token(char open) {
    return open == '(' ? Tok::RPAREN : open == '[' ? Tok::RBRACK : Tok::RBRACE;
  }

  void report_unclosed() {
    OpenBracket first = brackets_.front();
    OpenBracket last = brackets_.back();
    auto& d = error(Code::SPEC_SYNTAX, last.offset, last.offset + 1,
                    std::string("'") + last.ch + "' is never closed");
    if (first.offset != last.offset) {
      d.note(span(first.offset, first.offset + 1),
             std::string("'") + first.ch + "' also still open");
    }
  }

  /// `r"..."`, `b'...'`, `rb"..."`, and f-strings (reported, then read as plain strings).
  bool scan_prefixed_string(std::size_t begin, std::string_view prefix) {
    bool raw = false, bytes = false, fstring = false;
    for (char p : prefix) {
      char lower = static_cast<char>(p | 0x20);
      if (lower == 'r' && !raw)
        raw = true;
      else if (lower == 'b' && !bytes)
        bytes = true;
      else if (lower == 'f' && !fstring)
        fstring = true;
      else
        return false;
    }
    if (fstring && bytes) return false;
    if (fstring) {
      error(Code::SPEC_UNSUPPORTED_SYNTAX, begin, pos_ + 1,
            "f-strings are not supported in Starlark")
          .suggest("format with \"%s\" % x or \"{}\".format(x)");
    }
    scan_string(begin, pos_, raw, bytes);
    return true;
  }

  void scan_punct() {
    std::size_t begin = pos_;
    std::string_view rest = text_.substr(pos_);
    for (const auto& [spelling, type] : kPunct) {
      if (!rest.starts_with(spelling)) continue;
      pos_ += spelling.size();
      if (spelling == "<>") {
        error(Code::SPEC_SYNTAX, begin, pos_, "'<>' is not an operator").suggest("use '!='");
      }
      track_bracket(type, begin);
      if (!stop_) emit(type, begin, pos_);
      return;
    }
    char c = text_[pos_];
    std::size_t len = utf8_sequence_length(text_, pos_);
    pos_ += len;
    if (c == '!') {
      error(Code::SPEC_SYNTAX, begin, pos_, "unexpected '!'")
          .suggest("use 'not' for negation and '!=' for inequality");
      return;
    }
    auto& d =
        error(Code::SPEC_SYNTAX, begin, pos_, "unexpected character " + show_char(text_, begin));
    if (c == '@') d.suggest("Starlark has no decorators; call the function directly");
    if (c == '`') d.suggest("use repr(x) or str(x)");
    if (static_cast<unsigned char>(c) >= 0x80)
      d.note("names and operators must be ASCII; non-ASCII text belongs in strings or comments");
  }

  /// Keeps the bracket stack for implicit line joining and "never closed" errors.
  void track_bracket(Tok type, std::size_t begin) {
    auto open = [&](char ch) {
      if (brackets_.size() >= kMaxBracketDepth) {
        error(Code::SPEC_SYNTAX, begin, begin + 1,
              "the spec nests too deeply here: brackets more than " +
                  std::to_string(kMaxBracketDepth) + " levels deep");
        stop_ = true;
        too_deep_ = true;
        return;
      }
      std::size_t indent = physical_line_begin_;
      while (indent < begin && (text_[indent] == ' ' || text_[indent] == '\t')) ++indent;
      brackets_.push_back(OpenBracket{ch, static_cast<std::uint32_t>(begin),
                                      static_cast<std::uint32_t>(indent - physical_line_begin_)});
    };
    auto close = [&](char ch, char want) {
      if (brackets_.empty()) return;  // the parser reports the stray closer
      // The innermost open bracket this closer can close.
      std::size_t match = brackets_.size();
      while (match > 0 && brackets_[match - 1].ch != want) --match;
      if (match == brackets_.size()) {
        brackets_.pop_back();
      } else if (match == 0) {
        // Closes nothing that is open: most likely a typo for the innermost closer.
        OpenBracket top = brackets_.back();
        error(
            Code::SPEC_SYNTAX, begin, begin + 1,
            std::string("'") + ch + "' does not match '" + top.ch + "' at " + location(top.offset))
            .note(span(top.offset, top.offset + 1), std::string("'") + top.ch + "' opened here");
        brackets_.pop_back();
      } else {
        // Closes an outer bracket: the ones inside it were left open.
        OpenBracket inner = brackets_.back();
        error(Code::SPEC_SYNTAX, begin, begin + 1,
              std::string("'") + inner.ch + "' at " + location(inner.offset) +
                  " is never closed before this '" + ch + "'")
            .note(span(inner.offset, inner.offset + 1),
                  std::string("'") + inner.ch + "' opened here");
        brackets_.resize(match - 1);
      }
      if (brackets_.empty()) restart_.reset();
    };
    switch (type) {
      case Tok::LPAREN: open('('); break;
      case Tok::LBRACK: open('['); break;
      case Tok::LBRACE: open('{'); break;
      case Tok::RPAREN: close(')', '('); break;
      case Tok::RBRACK: close(']', '['); break;
      case Tok::RBRACE: close('}', '{'); break;
      default: break;
    }
  }

  // ---- numbers ------------------------------------------------------------------------

  void scan_number() {
    std::size_t begin = pos_;
    if (text_[pos_] == '0' && pos_ + 1 < text_.size()) {
      char base_char = static_cast<char>(text_[pos_ + 1] | 0x20);
      int base = base_char == 'x' ? 16 : base_char == 'o' ? 8 : base_char == 'b' ? 2 : 0;
      if (base) return scan_based_int(begin, base);
    }
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    bool is_float = false;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      is_float = true;
      ++pos_;
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      std::size_t exp = pos_ + 1;
      if (exp < text_.size() && (text_[exp] == '+' || text_[exp] == '-')) ++exp;
      if (exp < text_.size() && is_digit(text_[exp])) {
        is_float = true;
        pos_ = exp;
        while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
      } else {
        ++pos_;
        error(Code::SPEC_BAD_LITERAL, begin, pos_, "exponent has no digits");
        return finish_number(begin, true);
      }
    }
    finish_number(begin, is_float);
  }

  void finish_number(std::size_t begin, bool is_float) {
    if (!check_number_end(begin)) return;
    std::string_view text = text_.substr(begin, pos_ - begin);
    if (is_float) {
      std::string copy(text);
      errno = 0;
      double value = std::strtod(copy.c_str(), nullptr);
      if (errno == ERANGE && std::isinf(value)) {
        error(Code::SPEC_BAD_LITERAL, begin, pos_, "float literal is out of range");
      }
      result_.floats.push_back(value);
      return emit(Tok::FLOAT, begin, pos_, static_cast<std::uint32_t>(result_.floats.size() - 1));
    }
    if (text.size() > 1 && text[0] == '0') {
      bool all_zero = text.find_first_not_of('0') == std::string_view::npos;
      if (!all_zero) {
        error(Code::SPEC_BAD_LITERAL, begin, pos_, "integer literal with a leading zero")
            .suggest("write 0o" + std::string(text.substr(text.find_first_not_of('0'))) +
                     " for octal, or drop the zeros");
      }
    }
    emit_int(begin, text, 10);
  }

  void scan_based_int(std::size_t begin, int base) {
    pos_ += 2;
    std::size_t digits_begin = pos_;
    while (pos_ < text_.size() && digit_value(text_[pos_]) < 16) ++pos_;
    std::string_view digits = text_.substr(digits_begin, pos_ - digits_begin);
    if (!check_number_end(begin)) return;
    const char* name = base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary";
    if (digits.empty()) {
      error(Code::SPEC_BAD_LITERAL, begin, pos_, std::string(name) + " literal has no digits");
      return emit_int(begin, "0", 10);
    }
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (digit_value(digits[i]) >= base) {
        error(Code::SPEC_BAD_LITERAL, digits_begin + i, digits_begin + i + 1,
              std::string("invalid digit '") + digits[i] + "' in " + name + " literal");
        return emit_int(begin, "0", 10);
      }
    }
    emit_int(begin, digits, base);
  }

  /// A number must not run into a name ("123abc") or use '_' separators.
  bool check_number_end(std::size_t begin) {
    if (pos_ >= text_.size() || !is_ident_char(text_[pos_])) return true;
    std::size_t bad = pos_;
    while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
    if (text_[bad] == '_') {
      error(Code::SPEC_BAD_LITERAL, begin, pos_,
            "digit separators '_' are not supported in Starlark numbers");
    } else {
      error(Code::SPEC_BAD_LITERAL, bad, bad + 1,
            "invalid character " + show_char(text_, bad) + " in number literal");
    }
    emit_int(begin, "0", 10);
    return false;
  }

  void emit_int(std::size_t begin, std::string_view digits, int base) {
    // A literal longer than an int may be is refused before it is converted (which costs
    // time growing with its length squared). Bits in thousandths per digit: log2(base).
    std::size_t milli_bits = base == 16 ? 4000 : base == 8 ? 3000 : base == 2 ? 1000 : 3321;
    std::size_t significant =
        digits.size() - std::min(digits.size(), digits.find_first_not_of('0'));
    if (significant * milli_bits > (kMaxIntLiteralBits + 4) * 1000) {
      error(Code::SPEC_BAD_LITERAL, begin, pos_,
            "integer literal too large (an int has at most " + std::to_string(kMaxIntLiteralBits) +
                " bits)");
      digits = "0";
      base = 10;
    }
    std::vector<std::uint32_t> value{0};
    for (char d : digits)
      bignum_mul_add(value, static_cast<std::uint32_t>(base),
                     static_cast<std::uint32_t>(digit_value(d)));
    while (value.size() > 1 && value.back() == 0) value.pop_back();
    IntLiteral lit;
    std::uint64_t low =
        value[0] | (value.size() > 1 ? static_cast<std::uint64_t>(value[1]) << 32 : 0);
    if (value.size() <= 2 && low <= static_cast<std::uint64_t>(INT64_MAX)) {
      lit.small = static_cast<std::int64_t>(low);
    } else {
      lit.big = true;
      lit.decimal = bignum_to_decimal(std::move(value));
    }
    result_.ints.push_back(std::move(lit));
    emit(Tok::INT, begin, pos_, static_cast<std::uint32_t>(result_.ints.size() - 1));
  }

  // ---- strings ------------------------------------------------------------------------

  /// Scans a string starting at the quote at `quote_at`; `begin` includes any prefix.
  void scan_string(std::size_t begin, std::size_t quote_at, bool raw, bool bytes) {
    char quote = text_[quote_at];
    bool triple =
        quote_at + 2 < text_.size() && text_[quote_at + 1] == quote && text_[quote_at + 2] == quote;
    pos_ = quote_at + (triple ? 3 : 1);
    std::string value;
    for (;;) {
      if (pos_ >= text_.size()) {
        error(Code::SPEC_BAD_LITERAL, begin, quote_at + (triple ? 3 : 1),
              triple ? "unterminated triple-quoted string" : "unterminated string");
        break;
      }
      char c = text_[pos_];
      if (c == quote && (!triple || (pos_ + 2 < text_.size() && text_[pos_ + 1] == quote &&
                                     text_[pos_ + 2] == quote))) {
        pos_ += triple ? 3 : 1;
        break;
      }
      if ((c == '\n' || c == '\r') && !triple) {
        error(Code::SPEC_BAD_LITERAL, begin, quote_at + 1,
              "unterminated string (a newline ends it)")
            .suggest(
                "close the quote on the same line, or use a triple-quoted string for text spanning "
                "lines");
        break;  // the newline is left for the line logic
      }
      if (c == '\\') {
        scan_escape(value, raw, bytes);
        continue;
      }
      if (c == '\r') {
        // Triple-quoted strings normalize "\r\n" to "\n", as Python does.
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
        value += '\n';
        ++pos_;
        continue;
      }
      value += c;
      ++pos_;
    }
    result_.strings.push_back(std::move(value));
    emit(bytes ? Tok::BYTES : Tok::STRING, begin, pos_,
         static_cast<std::uint32_t>(result_.strings.size() - 1));
  }

  void scan_escape(std::string& value, bool raw, bool bytes) {
    std::size_t begin = pos_;
    if (pos_ + 1 >= text_.size()) {
      value += '\\';
      ++pos_;
      return;
    }
    char e = text_[pos_ + 1];
    if (raw) {
      // In raw strings a backslash keeps itself and protects the next character, so
      // r"\"" is a two-character string. A backslash-newline stays as is.
      value += '\\';
      value += e;
      pos_ += 2;
      if (e == '\r' && pos_ < text_.size() && text_[pos_] == '\n') value += text_[pos_++];
      return;
    }
    pos_ += 2;
    switch (e) {
      case '\n': return;  // line continuation inside a string
      case '\r':
        if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        return;
      case 'n': value += '\n'; return;
      case 't': value += '\t'; return;
      case 'r': value += '\r'; return;
      case 'a': value += '\a'; return;
      case 'b': value += '\b'; return;
      case 'f': value += '\f'; return;
      case 'v': value += '\v'; return;
      case '\\': value += '\\'; return;
      case '\'': value += '\''; return;
      case '"': value += '"'; return;
      case 'x': return scan_hex_escape(value, begin, 2, bytes);
      case 'u': return scan_hex_escape(value, begin, 4, bytes);
      case 'U': return scan_hex_escape(value, begin, 8, bytes);
      default: break;
    }
    if (e >= '0' && e <= '7') {
      unsigned code = static_cast<unsigned>(e - '0');
      for (int i = 0; i < 2 && pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '7';
           ++i) {
        code = code * 8 + static_cast<unsigned>(text_[pos_++] - '0');
      }
      if (code > 0xFF) {
        error(Code::SPEC_BAD_LITERAL, begin, pos_, "octal escape out of range (largest is \\377)");
        return;
      }
      value += static_cast<char>(code);
      return;
    }
    pos_ = begin + 1 + utf8_sequence_length(text_, begin + 1);
    error(Code::SPEC_BAD_LITERAL, begin, pos_,
          "invalid escape sequence '\\" + std::string(text_.substr(begin + 1, pos_ - begin - 1)) +
              "'")
        .suggest("write '\\\\' for a backslash, or use a raw string r\"...\"");
  }

  void scan_hex_escape(std::string& value, std::size_t begin, int count, bool bytes) {
    char32_t code = 0;
    for (int i = 0; i < count; ++i) {
      if (pos_ >= text_.size() || digit_value(text_[pos_]) >= 16) {
        error(Code::SPEC_BAD_LITERAL, begin, pos_,
              "escape '\\" + std::string(1, text_[begin + 1]) + "' needs " + std::to_string(count) +
                  " hex digits");
        return;
      }
      code = code * 16 + static_cast<char32_t>(digit_value(text_[pos_++]));
    }
    if (count == 2) {
      // \xHH is one byte in bytes; in a text string only ASCII keeps the string UTF-8.
      if (!bytes && code > 0x7F) {
        error(Code::SPEC_BAD_LITERAL, begin, pos_, "non-ASCII '\\x' escape in a string")
            .suggest("use '\\u" + std::string(code < 0x10 ? "000" : "00") +
                     std::string(text_.substr(begin + 2, 2)) +
                     "' for the character, or a bytes literal b\"...\"");
        return;
      }
      value += static_cast<char>(code);
      return;
    }
    if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      error(Code::SPEC_BAD_LITERAL, begin, pos_, "escape is not a valid Unicode code point");
      return;
    }
    append_utf8(value, code);
  }

  // ---- end ----------------------------------------------------------------------------

  void finish() {
    std::size_t end = text_.size();
    if (!brackets_.empty()) {
      // Brackets left open because lexing stopped at one nested too deeply are not
      // "never closed": that error says it all.
      if (!too_deep_) report_unclosed();
      // Close them so the parser sees a complete statement and reports nothing more.
      for (std::size_t i = brackets_.size(); i-- > 0;)
        emit(closer_token(brackets_[i].ch), end, end);
      brackets_.clear();
    }
    if (line_has_tokens_) emit(Tok::NEWLINE, end, end);
    while (indents_.size() > 1) {
      indents_.pop_back();
      emit(Tok::DEDENT, end, end);
    }
    emit(Tok::kEof, end, end);
    for (Diagnostic& d : pending_) sink_.report(std::move(d));
  }

  const SourceFile& file_;
  std::string_view text_;
  DiagnosticSink& sink_;
  LexResult result_;
  std::vector<Diagnostic> pending_;
  std::vector<std::string> indents_;
  std::vector<OpenBracket> brackets_;
  std::optional<Restart> restart_;
  int restarts_ = 0;
  std::size_t pos_ = 0;
  bool at_line_start_ = true;
  bool line_has_tokens_ = false;
  bool stop_ = false;
  bool too_deep_ = false;  // stopped at a bracket nested more than kMaxBracketDepth
  std::size_t physical_line_begin_ = 0;
};

}  // namespace

std::string describe(Tok type) {
  const TokenInfo& info = kTokenInfo[static_cast<std::size_t>(type)];
  if (!info.literal) return std::string(info.text);
  bool keyword = type >= Tok::AND && type <= Tok::WHILE;
  return (keyword ? "keyword '" : "'") + std::string(info.text) + "'";
}

std::string_view spelling(Tok type) {
  const TokenInfo& info = kTokenInfo[static_cast<std::size_t>(type)];
  return info.literal ? info.text : std::string_view{};
}

LexResult lex(const SourceFile& file, DiagnosticSink& sink) { return Scanner(file, sink).run(); }

}  // namespace fb::grammar
