#pragma once
/// Feeds the hand-written lexer's tokens to the ANTLR parser.

#include <antlr4-runtime.h>

#include <vector>

#include "grammar/lexer.h"

namespace fb::grammar {

/// An antlr4::TokenSource over a token vector. Tokens carry type and character indices
/// only (no text): the parser needs nothing else, and the AST builder reads literal
/// values from the LexResult by token index.
class VectorTokenSource final : public antlr4::TokenSource {
 public:
  VectorTokenSource(const std::vector<Token>& tokens, std::string source_name);

  std::unique_ptr<antlr4::Token> nextToken() override;
  size_t getLine() const override { return 0; }
  size_t getCharPositionInLine() override { return 0; }
  antlr4::CharStream* getInputStream() override { return nullptr; }
  std::string getSourceName() override { return source_name_; }
  antlr4::TokenFactory<antlr4::CommonToken>* getTokenFactory() override;

 private:
  const std::vector<Token>& tokens_;
  std::string source_name_;
  std::size_t next_ = 0;
};

}  // namespace fb::grammar
