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

loopVariables : primary (',' primary)* ','? ;

testList : test (',' test)* ','? ;

test
  : LAMBDA parameters? ':' test           # lambdaTest
  | expr (IF expr ELSE test)?             # condTest
  ;

// Binary operators, highest precedence first (ANTLR's left-recursion rewrite keeps the
// tree flat). Comparisons are non-associative in Starlark; the builder rejects a < b < c.
expr
  : primary                                        # primaryExpr
  | expr op='**' expr                              # powerExpr
  | op=('+' | '-' | '~') expr                      # unaryExpr
  | expr op=('*' | '/' | '//' | '%') expr          # binaryExpr
  | expr op=('+' | '-') expr                       # binaryExpr
  | expr op=('<<' | '>>') expr                     # binaryExpr
  | expr op='&' expr                               # binaryExpr
  | expr op='^' expr                               # binaryExpr
  | expr op='|' expr                               # binaryExpr
  | expr compOp expr                               # compareExpr
  | NOT expr                                       # notExpr
  | expr op=AND expr                               # binaryExpr
  | expr op=OR expr                                # binaryExpr
  ;

// RESERVED covers `is` / `is not`, reported by the builder.
compOp : '==' | '!=' | '<' | '>' | '<=' | '>=' | IN | NOT IN | RESERVED NOT? ;

primary
  : operand                                # operandPrimary
  | primary '.' NAME                       # dotPrimary
  | primary '(' arguments? ')'             # callPrimary
  | primary '[' subscript ']'              # subscriptPrimary
  ;

// x[i], x[lo:hi], x[lo:hi:step] with any part omitted. One rule (and no tuple index)
// keeps every decision LL(1); the builder sorts the parts out by the ':' tokens.
subscript : test? (':' test? (':' test?)?)? ;

arguments : argument (',' argument)* ','? ;

argument
  : NAME '=' test     # keywordArg
  | '*' test          # starArg
  | '**' test         # kwargsArg
  | test              # positionalArg
  ;

// Displays and comprehensions are factored so the parser decides after the first
// element with one token of lookahead, never by scanning a whole element twice.
operand
  : NAME                     # nameOperand
  | INT                      # intOperand
  | FLOAT                    # floatOperand
  | STRING                   # stringOperand
  | BYTES                    # bytesOperand
  | '[' listBody? ']'        # listOperand
  | '{' dictBody? '}'        # dictOperand
  | '(' testList? ')'        # parenOperand
  ;

listBody : test (compClause+ | (',' test)* ','?) ;

// `{k: v, ...}`, `{k: v for ...}`, and the error production `{a, b}` (a set literal,
// which Starlark lacks): the builder checks that every item has a value.
dictBody : dictItem (compClause+ | (',' dictItem)* ','?) ;

dictItem : key=test (':' value=test)? ;

compClause
  : FOR loopVariables IN expr     # forClause
  | IF expr                       # ifClause
  ;
