#include "grammar/parser.h"

#include <antlr4-runtime.h>

#include <algorithm>
#include <sstream>

#include "StarlarkParser.h"
#include "grammar/ast_builder.h"
#include "grammar/ast_dump.h"
#include "grammar/token_source.h"

namespace fb::grammar {
namespace {

using gen::StarlarkParser;

/// How deep the parser may recurse into rules before giving up. Every nesting level of
/// brackets, blocks, lambdas, or unary operators costs a few rule frames (about 120
/// nested brackets fit). Sized so that even a sanitizer build, whose frames are several
/// times larger, parses the deepest input in under 3 MB of stack.
constexpr std::size_t kMaxRuleDepth = 600;

/// Thrown out of the generated parser at the first syntax error: where, and what the
/// parser would have accepted there.
struct SyntaxFailure {
  std::size_t token_index;
  std::vector<std::size_t> expected;  // token types (antlr4::Token::EOF for end of file)
  bool too_deep = false;
};

std::vector<std::size_t> token_types(const antlr4::misc::IntervalSet& set) {
  std::vector<std::size_t> types;
  for (auto t : set.toList()) types.push_back(static_cast<std::size_t>(t));  // -1 is EOF
  return types;
}

/// Stops at the first error instead of ANTLR's token-level repair, whose guesses
/// produce confusing cascades; the driver repairs whole lines instead.
class StopAtFirstError final : public antlr4::DefaultErrorStrategy {
 public:
  void reportError(antlr4::Parser*, const antlr4::RecognitionException&) override {}
  void recover(antlr4::Parser* parser, std::exception_ptr e) override {
    std::size_t at = parser->getCurrentToken()->getTokenIndex();
    std::vector<std::size_t> expected;
    try {
      std::rethrow_exception(e);
    } catch (const antlr4::RecognitionException& re) {
      if (re.getOffendingToken()) at = re.getOffendingToken()->getTokenIndex();
      expected = token_types(re.getExpectedTokens());
    } catch (...) {
    }
    throw SyntaxFailure{at, std::move(expected)};
  }
  antlr4::Token* recoverInline(antlr4::Parser* parser) override {
    throw SyntaxFailure{parser->getCurrentToken()->getTokenIndex(),
                        token_types(parser->getExpectedTokens())};
  }
  void sync(antlr4::Parser*) override {}
};

/// Counts rule nesting so hostile input cannot overflow the stack.
class DepthGuard final : public antlr4::tree::ParseTreeListener {
 public:
  explicit DepthGuard(antlr4::Parser& parser) : parser_(parser) {}
  void enterEveryRule(antlr4::ParserRuleContext*) override {
    if (++depth_ > kMaxRuleDepth) {
      throw SyntaxFailure{parser_.getCurrentToken()->getTokenIndex(), {}, true};
    }
  }
  void exitEveryRule(antlr4::ParserRuleContext*) override { --depth_; }
  void visitTerminal(antlr4::tree::TerminalNode*) override {}
  void visitErrorNode(antlr4::tree::ErrorNode*) override {}

 private:
  antlr4::Parser& parser_;
  std::size_t depth_ = 0;
};

Tok tok(std::size_t antlr_type) {
  return antlr_type == antlr4::Token::EOF ? Tok::kEof : static_cast<Tok>(antlr_type);
}

// ---- logical lines ------------------------------------------------------------------------

/// First token of the logical line holding `index` (lines are separated by NEWLINE, and
/// INDENT/DEDENT open a new one).
std::size_t logical_line_start(const std::vector<Token>& tokens, std::size_t index) {
  while (index > 0) {
    Tok t = tokens[index - 1].type;
    if (t == Tok::NEWLINE || t == Tok::INDENT || t == Tok::DEDENT) break;
    --index;
  }
  return index;
}

/// The NEWLINE ending the logical line holding `index`, or the end-of-file token.
std::size_t logical_line_end(const std::vector<Token>& tokens, std::size_t index) {
  while (index + 1 < tokens.size() && tokens[index].type != Tok::NEWLINE) ++index;
  return index;
}

// ---- messages ---------------------------------------------------------------------------

class MessageBuilder {
 public:
  MessageBuilder(const SourceFile& file, const std::vector<Token>& tokens)
      : file_(file), tokens_(tokens) {}

  Diagnostic build(const SyntaxFailure& failure) const {
    const Token& found = tokens_[failure.token_index];
    Span where{file_.id(), found.offset, found.length};
    if (failure.too_deep) {
      return Diagnostic::make(Code::SPEC_SYNTAX, where, "the spec nests too deeply here to parse");
    }
    if (found.type == Tok::INDENT) {
      return Diagnostic::make(Code::SPEC_INDENTATION, where, "unexpected indent")
          .suggest("indent only the body of a def, if, for or while");
    }
    if (found.type == Tok::RESERVED) return reserved_word(failure, where);
    std::string what = found_text(failure.token_index);
    Diagnostic d = Diagnostic::make(Code::SPEC_SYNTAX, where, "");
    if (is_closer(found.type) && !open_bracket_expecting_close(failure)) {
      char ch = file_.text()[found.offset];
      char opener = ch == ')' ? '(' : ch == ']' ? '[' : '{';
      d.message = std::string("unexpected '") + ch + "': no '" + opener + "' is open";
      return d;
    }
    if (auto bracket = open_bracket_expecting_close(failure)) {
      const Token& open = tokens_[*bracket];
      char ch = file_.text()[open.offset];
      char closer = ch == '(' ? ')' : ch == '[' ? ']' : '}';
      d.message = std::string("expected '") + closer + "' to close '" + ch + "' at " +
                  location(open.offset) + ", found " + what;
      if (wants(failure, Tok::COMMA)) d.suggest("separate items with ','");
    } else {
      std::string expected = expected_text(failure);
      d.message =
          expected.empty() ? "unexpected " + what : "expected " + expected + ", found " + what;
    }
    add_hint(failure, d);
    return d;
  }

 private:
  std::string location(std::uint32_t offset) const {
    LineCol at = file_.line_col(offset);
    return std::to_string(at.line) + ":" + std::to_string(at.col);
  }

  static bool is_closer(Tok t) { return t == Tok::RPAREN || t == Tok::RBRACK || t == Tok::RBRACE; }

  std::string_view text_of(const Token& t) const { return file_.text().substr(t.offset, t.length); }

  std::string found_text(std::size_t index) const {
    const Token& t = tokens_[index];
    switch (t.type) {
      case Tok::NAME: return "name '" + std::string(text_of(t)) + "'";
      case Tok::INT:
      case Tok::FLOAT: return "number " + std::string(text_of(t).substr(0, 20));
      case Tok::STRING: return "a string";
      case Tok::BYTES: return "a bytes literal";
      case Tok::kEof: return "end of file";
      case Tok::DEDENT: return "the end of the block";
      default: return describe(t.type);
    }
  }

  bool wants(const SyntaxFailure& f, Tok type) const {
    auto want = type == Tok::kEof ? antlr4::Token::EOF : static_cast<std::size_t>(type);
    return std::find(f.expected.begin(), f.expected.end(), want) != f.expected.end();
  }

  /// "an expression", "':'", "',' or ')'"; empty when the set is too broad to help.
  std::string expected_text(const SyntaxFailure& f) const {
    static constexpr Tok kExprStart[] = {
        Tok::NAME,   Tok::INT,   Tok::FLOAT, Tok::STRING, Tok::BYTES, Tok::LPAREN, Tok::LBRACK,
        Tok::LBRACE, Tok::MINUS, Tok::PLUS,  Tok::TILDE,  Tok::NOT,   Tok::LAMBDA};
    std::vector<std::string> parts;
    bool expression = wants(f, Tok::NAME) && wants(f, Tok::LPAREN) && wants(f, Tok::INT);
    if (expression) parts.push_back("an expression");
    for (std::size_t type : f.expected) {
      Tok t = tok(type);
      if (expression &&
          std::find(std::begin(kExprStart), std::end(kExprStart), t) != std::end(kExprStart))
        continue;
      if (t == Tok::INDENT) {
        parts.push_back("an indented block");
      } else if (t == Tok::NEWLINE) {
        parts.push_back("end of line");
      } else if (t == Tok::NAME) {
        parts.push_back("a name");
      } else if (t == Tok::STRING) {
        parts.push_back("a string");
      } else if (!spelling(t).empty() && t != Tok::RESERVED) {
        parts.push_back("'" + std::string(spelling(t)) + "'");
      }
    }
    if (parts.empty() || parts.size() > 4) return "";
    std::string text = parts[0];
    for (std::size_t i = 1; i < parts.size(); ++i)
      text += (i + 1 == parts.size() ? " or " : ", ") + parts[i];
    return text;
  }

  /// Index of the innermost bracket still open at the failure whose closer the parser
  /// would accept (so the message can name where it was opened).
  std::optional<std::size_t> open_bracket_expecting_close(const SyntaxFailure& f) const {
    std::vector<std::size_t> stack;
    for (std::size_t i = logical_line_start(tokens_, f.token_index); i < f.token_index; ++i) {
      Tok t = tokens_[i].type;
      if (t == Tok::LPAREN || t == Tok::LBRACK || t == Tok::LBRACE) stack.push_back(i);
      if ((t == Tok::RPAREN || t == Tok::RBRACK || t == Tok::RBRACE) && !stack.empty())
        stack.pop_back();
    }
    if (stack.empty()) return std::nullopt;
    Tok open = tokens_[stack.back()].type;
    Tok close = open == Tok::LPAREN ? Tok::RPAREN : open == Tok::LBRACK ? Tok::RBRACK : Tok::RBRACE;
    if (!wants(f, close)) return std::nullopt;
    return stack.back();
  }

  Diagnostic reserved_word(const SyntaxFailure& f, Span where) const {
    std::string word(text_of(tokens_[f.token_index]));
    Diagnostic d =
        Diagnostic::make(Code::SPEC_UNSUPPORTED_SYNTAX, where,
                         "'" + word + "' is a reserved word in Starlark and cannot be used here");
    if (word == "is") d.suggest("compare with '==' or '!='");
    if (word == "as")
      d.suggest("load(\"module.star\", alias=\"symbol\") binds a symbol under another name");
    return d;
  }

  /// Hints for habits from other languages.
  void add_hint(const SyntaxFailure& f, Diagnostic& d) const {
    std::size_t i = f.token_index;
    const Token& found = tokens_[i];
    const Token* prev = i > 0 ? &tokens_[i - 1] : nullptr;
    if (found.type == Tok::ASSIGN && wants(f, Tok::COLON)) {
      d.suggest("use '==' to compare; '=' only assigns");
    } else if (found.type == Tok::IF && prev && prev->type == Tok::ELSE) {
      d.suggest("write 'elif' instead of 'else if'");
    } else if (prev && found.type == prev->type &&
               (found.type == Tok::AMP || found.type == Tok::PIPE)) {
      d.suggest(found.type == Tok::AMP ? "use 'and'" : "use 'or'");
    } else if (found.type == Tok::STRING && prev && prev->type == Tok::STRING) {
      d.suggest("adjacent strings are not joined in Starlark; concatenate them with '+'");
    } else if (found.type == Tok::NEWLINE && wants(f, Tok::COLON)) {
      d.suggest("add ':' at the end of the line");
    } else if (prev && prev->type == Tok::NAME && text_of(*prev) == "assert" &&
               logical_line_start(tokens_, i) == i - 1) {
      d.suggest("Starlark has no assert statement; use assert_true(condition, \"message\")");
    } else if (prev && prev->type == Tok::NAME && text_of(*prev) == "print" &&
               logical_line_start(tokens_, i) == i - 1) {
      d.suggest("print is a function: print(\"...\")");
    }
  }

  const SourceFile& file_;
  const std::vector<Token>& tokens_;
};

// ---- repair -----------------------------------------------------------------------------

/// Replaces the logical line holding the failure so the next parse can go on, and
/// returns the token range that was replaced (to tell later errors from cascades).
class Repairer {
 public:
  explicit Repairer(std::vector<Token>& tokens) : tokens_(tokens) {}

  /// Returns false when nothing could be changed (parsing must stop).
  bool repair(std::size_t at) {
    if (tokens_[at].type == Tok::INDENT) return drop_block_markers(at);
    std::size_t end = at;
    // A failure on the structure after a line (its NEWLINE, a DEDENT, end of file)
    // belongs to the line that just ended.
    if ((tokens_[at].type == Tok::DEDENT || tokens_[at].type == Tok::kEof) && at > 0 &&
        tokens_[at - 1].type == Tok::NEWLINE) {
      end = at - 1;
    }
    end = logical_line_end(tokens_, end);
    std::size_t start = logical_line_start(tokens_, end);
    if (tokens_[end].type != Tok::NEWLINE) {
      // No line terminator (only end of file): drop what is left of the line.
      if (start == end) return false;
      tokens_.erase(tokens_.begin() + static_cast<long>(start),
                    tokens_.begin() + static_cast<long>(end));
      return true;
    }
    bool header = end + 1 < tokens_.size() && tokens_[end + 1].type == Tok::INDENT;
    Token anchor = tokens_[start];
    anchor.length = 0;
    std::vector<Token> replacement;
    if (header) {
      // Keep the block: parse it as the body of "if x:" so its own errors still show.
      for (Tok t : {Tok::IF, Tok::NAME, Tok::COLON}) replacement.push_back(with_type(anchor, t));
    } else {
      replacement.push_back(with_type(anchor, Tok::PASS));
    }
    bool same = end - start == replacement.size();
    for (std::size_t k = 0; same && k < replacement.size(); ++k)
      same = tokens_[start + k].type == replacement[k].type;
    if (same) return false;
    tokens_.erase(tokens_.begin() + static_cast<long>(start),
                  tokens_.begin() + static_cast<long>(end));
    tokens_.insert(tokens_.begin() + static_cast<long>(start), replacement.begin(),
                   replacement.end());
    return true;
  }

 private:
  static Token with_type(Token t, Tok type) {
    t.type = type;
    t.value = 0;
    return t;
  }

  /// An unexpected indent: remove it and its matching dedent, so the block reads as if
  /// it were not indented.
  bool drop_block_markers(std::size_t at) {
    int depth = 0;
    for (std::size_t k = at; k < tokens_.size(); ++k) {
      if (tokens_[k].type == Tok::INDENT) ++depth;
      if (tokens_[k].type == Tok::DEDENT && --depth == 0) {
        tokens_.erase(tokens_.begin() + static_cast<long>(k));
        break;
      }
    }
    tokens_.erase(tokens_.begin() + static_cast<long>(at));
    return true;
  }

  std::vector<Token>& tokens_;
};

/// One parse attempt over `tokens`: SLL first, LL on failure. Returns the tree or throws
/// SyntaxFailure. The parser and stream must outlive the tree, so the caller owns them.
struct Attempt {
  VectorTokenSource source;
  antlr4::CommonTokenStream stream;
  StarlarkParser parser;
  DepthGuard guard;

  Attempt(const std::vector<Token>& tokens, const std::string& name)
      : source(tokens, name), stream(&source), parser(&stream), guard(parser) {
    parser.removeErrorListeners();
    parser.setErrorHandler(std::make_shared<StopAtFirstError>());
    parser.addParseListener(&guard);
    parser.setBuildParseTree(true);
  }

  StarlarkParser::File_Context* run() {
    auto* sim = parser.getInterpreter<antlr4::atn::ParserATNSimulator>();
    sim->setPredictionMode(antlr4::atn::PredictionMode::SLL);
    try {
      return parser.file_();
    } catch (const SyntaxFailure& failure) {
      if (failure.too_deep) throw;
    }
    // SLL can reject input that full LL accepts; only an LL failure is a real error.
    stream.seek(0);
    parser.reset();
    sim->setPredictionMode(antlr4::atn::PredictionMode::LL);
    return parser.file_();
  }
};

bool overlaps_line(const std::vector<Token>& tokens, std::size_t at,
                   const std::vector<std::uint32_t>& offsets) {
  // The logical line around `at`, in source offsets.
  std::size_t start = logical_line_start(tokens, at), end = logical_line_end(tokens, at);
  std::uint32_t lo = tokens[start].offset, hi = tokens[end].offset + tokens[end].length;
  return std::any_of(offsets.begin(), offsets.end(),
                     [&](std::uint32_t o) { return o >= lo && o <= hi; });
}

/// Forwards diagnostics and remembers where errors were (to suppress cascades).
class RecordingSink final : public DiagnosticSink {
 public:
  explicit RecordingSink(DiagnosticSink& next) : next_(next) {}
  void report(Diagnostic d) override {
    if (d.level == Level::kError) offsets.push_back(d.span.offset);
    next_.report(std::move(d));
  }
  std::vector<std::uint32_t> offsets;

 private:
  DiagnosticSink& next_;
};

/// Splits the token stream at the starts of top-level statements: a token at block
/// depth 0 right after a NEWLINE or DEDENT. Each piece (plus an end-of-file token) is
/// parsed on its own, so the parse tree of one statement is freed before the next is
/// built and memory stays proportional to the largest statement, not the file.
std::vector<std::pair<std::size_t, std::size_t>> top_level_pieces(
    const std::vector<Token>& tokens) {
  std::vector<std::pair<std::size_t, std::size_t>> pieces;
  std::size_t start = 0;
  int depth = 0;
  std::size_t last = tokens.size() - 1;  // the end-of-file token
  for (std::size_t i = 0; i < last; ++i) {
    Tok t = tokens[i].type;
    if (t == Tok::INDENT) ++depth;
    if (t == Tok::DEDENT) --depth;
    // `elif`/`else` continue the statement above them.
    bool continues = t == Tok::INDENT || t == Tok::DEDENT || t == Tok::ELIF || t == Tok::ELSE;
    bool boundary = i > start && depth == 0 && !continues &&
                    (tokens[i - 1].type == Tok::NEWLINE || tokens[i - 1].type == Tok::DEDENT);
    if (boundary) {
      pieces.emplace_back(start, i);
      start = i;
    }
  }
  if (start < last) pieces.emplace_back(start, last);
  return pieces;
}

/// Parses one piece, repairing and re-parsing after each syntax error (see parse()).
/// Appends what it could build to `out`; returns false if anything was reported.
bool parse_piece(std::vector<Token> tokens, const LexResult& lexed, const SourceFile& file,
                 RecordingSink& recording, std::size_t& reported, std::vector<ast::StmtPtr>& out) {
  bool clean = true;
  for (;;) {
    Attempt attempt(tokens, file.path());
    try {
      StarlarkParser::File_Context* tree = attempt.run();
      return build_statements(tree, tokens, lexed, file, recording, out) && clean;
    } catch (const SyntaxFailure& failure) {
      clean = false;
      bool cascade = overlaps_line(tokens, failure.token_index, recording.offsets);
      if (!cascade) {
        if (reported == kMaxSyntaxErrors) {
          Span at{file.id(), tokens[failure.token_index].offset, 0};
          recording.report(
              Diagnostic::make(Code::SPEC_SYNTAX, at, "too many syntax errors; stopping here"));
          ++reported;  // past the limit: the caller stops
          return false;
        }
        recording.report(MessageBuilder(file, tokens).build(failure));
        ++reported;
      }
      if (failure.too_deep || !Repairer(tokens).repair(failure.token_index)) return false;
    }
  }
}

}  // namespace

std::unique_ptr<ast::Module> parse(const SourceFile& file, DiagnosticSink& sink) {
  RecordingSink recording(sink);
  LexResult lexed = lex(file, recording);
  auto module = std::make_unique<ast::Module>();
  module->file = file.id();
  bool clean = recording.offsets.empty();
  std::size_t reported = 0;
  const Token& eof = lexed.tokens.back();
  for (auto [begin, end] : top_level_pieces(lexed.tokens)) {
    std::vector<Token> piece(lexed.tokens.begin() + static_cast<long>(begin),
                             lexed.tokens.begin() + static_cast<long>(end));
    piece.push_back(eof);
    clean &= parse_piece(std::move(piece), lexed, file, recording, reported, module->body);
    if (reported > kMaxSyntaxErrors) break;
  }
  module->syntax_ok = clean;
  return module;
}

std::string dump_tokens(const SourceFile& file, const LexResult& lexed) {
  std::ostringstream out;
  for (const Token& t : lexed.tokens) {
    LineCol at = file.line_col(t.offset);
    out << at.line << ':' << at.col << ' ' << describe(t.type);
    switch (t.type) {
      case Tok::NAME:
      case Tok::RESERVED: out << ' ' << file.text().substr(t.offset, t.length); break;
      case Tok::INT: {
        const IntLiteral& v = lexed.ints[t.value];
        out << ' ' << (v.big ? v.decimal : std::to_string(v.small));
        break;
      }
      case Tok::FLOAT: out << ' ' << lexed.floats[t.value]; break;
      case Tok::STRING:
      case Tok::BYTES: out << ' ' << ast::quote(lexed.strings[t.value]); break;
      default: break;
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace fb::grammar
