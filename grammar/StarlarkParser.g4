// The Starlark parser (bazelbuild/starlark spec), plus error productions for Python
// constructs users write by habit, so the AST builder can name them precisely instead of
// the parser reporting a generic syntax error. Tokens come from the hand-written lexer
// (grammar/lexer.cc); the vocabulary is generated from grammar/tokens.def.
parser grammar StarlarkParser;

options { tokenVocab = StarlarkLexer; }

file_ : (NEWLINE | statement)* EOF ;

statement
  : defStmt
  | ifStmt
  | forStmt
  | whileStmt
  | unsupportedStmt
  | simpleStmt
  ;

defStmt : DEF NAME '(' parameters? ')' ':' suite ;

parameters : parameter (',' parameter)* ','? ;

parameter
  : NAME ('=' test)?      # plainParam
  | '*' NAME?             # starParam
  | '**' NAME             # kwargsParam
  ;

ifStmt : IF test ':' suite (ELIF test ':' suite)* (ELSE ':' suite)? ;

// `for ... else` is Python only; the builder reports the else branch.
forStmt : FOR loopVariables IN testList ':' suite (ELSE ':' suite)? ;

whileStmt : WHILE test ':' suite ;

// Error production: `import x`, `class C:`, `try:`, `with f() as x:`, `global x`...
unsupportedStmt : RESERVED (~(NEWLINE | ':'))* (':' suite | NEWLINE) ;

suite : simpleStmt | NEWLINE INDENT statement+ DEDENT ;

simpleStmt : smallStmt (';' smallStmt)* ';'? NEWLINE ;

smallStmt
  : RETURN testList?                        # returnStmt
  | BREAK                                   # breakStmt
  | CONTINUE                                # continueStmt
  | PASS                                    # passStmt
  | LOAD '(' STRING (',' loadArg)* ','? ')' # loadStmt
  | testList (assignOp testList)?           # exprOrAssignStmt
  ;

loadArg : (NAME '=')? STRING ;

assignOp : '=' | '+=' | '-=' | '*=' | '/=' | '//=' | '%=' | '&=' | '|=' | '^=' | '<<=' | '>>=' ;

loopVariables : loopTarget (',' loopTarget)* ','? ;

// The variables of a for loop or comprehension: what Starlark calls a primary
// expression. It is its own small rule because a full expression would swallow the `in`.
loopTarget
  : NAME                              # nameTarget
  | '(' loopVariables? ')'            # parenTarget
  | '[' loopVariables? ']'            # listTarget
  | loopTarget '.' NAME               # dotTarget
  | loopTarget '(' arguments? ')'     # callTarget
  | loopTarget '[' subscript ']'      # subscriptTarget
  ;

testList : test (',' test)* ','? ;

// The rules most often entered (test, expr, argument) have no alternative labels: a
// label makes ANTLR allocate a second context per match, and the builder can tell the
// alternatives apart by their shape.
test
  : LAMBDA parameters? ':' test
  | expr (IF expr ELSE test)?
  ;

// Operands, suffixes and operators in one left-recursive rule, highest precedence
// first. ANTLR turns it into a loop, so an operand costs one rule context rather than one
// per precedence level (the frontend allocates in proportion to contexts). Comparisons
// are non-associative in Starlark; the builder rejects a < b < c.
expr
  : NAME
  | INT
  | FLOAT
  | STRING
  | BYTES
  | '[' listBody? ']'
  | '{' dictBody? '}'
  | '(' testList? ')'
  | expr '.' NAME
  | expr '(' arguments? ')'
  | expr '[' subscript ']'
  | expr op='**' expr
  | op=('+' | '-' | '~') expr
  | expr op=('*' | '/' | '//' | '%') expr
  | expr op=('+' | '-') expr
  | expr op=('<<' | '>>') expr
  | expr op='&' expr
  | expr op='^' expr
  | expr op='|' expr
  | expr compOp expr
  | NOT expr
  | expr op=AND expr
  | expr op=OR expr
  ;

// RESERVED covers `is` / `is not`, reported by the builder.
compOp : '==' | '!=' | '<' | '>' | '<=' | '>=' | IN | NOT IN | RESERVED NOT? ;

// x[i], x[lo:hi], x[lo:hi:step] with any part omitted. One rule (and no tuple index)
// keeps every decision LL(1); the builder sorts the parts out by the ':' tokens.
subscript : test? (':' test? (':' test?)?)? ;

arguments : argument (',' argument)* ','? ;

argument
  : NAME '=' test
  | '*' test
  | '**' test
  | test
  ;

// Displays and comprehensions are factored so the parser decides after the first
// element with one token of lookahead, never by scanning a whole element twice.
listBody : test (compClause+ | (',' test)* ','?) ;

// `{k: v, ...}`, `{k: v for ...}`, and the error production `{a, b}` (a set literal,
// which Starlark lacks): the builder checks that every item has a value.
dictBody : dictItem (compClause+ | (',' dictItem)* ','?) ;

dictItem : key=test (':' value=test)? ;

compClause
  : FOR loopVariables IN expr     # forClause
  | IF expr                       # ifClause
  ;
