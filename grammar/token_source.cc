#include "grammar/token_source.h"

namespace fb::grammar {

VectorTokenSource::VectorTokenSource(const std::vector<Token>& tokens, std::string source_name)
    : tokens_(tokens), source_name_(std::move(source_name)) {}

std::unique_ptr<antlr4::Token> VectorTokenSource::nextToken() {
  // The vector always ends with kEof; keep answering EOF after it, as ANTLR expects.
  const Token& t = tokens_[std::min(next_, tokens_.size() - 1)];
  if (next_ < tokens_.size()) ++next_;
  std::size_t type = t.type == Tok::kEof ? antlr4::Token::EOF : static_cast<std::size_t>(t.type);
  auto token = std::make_unique<antlr4::CommonToken>(type);
  token->setStartIndex(t.offset);
  token->setStopIndex(t.offset + t.length - 1);
  return token;
}

antlr4::TokenFactory<antlr4::CommonToken>* VectorTokenSource::getTokenFactory() {
  return antlr4::CommonTokenFactory::DEFAULT.get();
}

}  // namespace fb::grammar
