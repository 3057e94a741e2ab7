//! The selection strings of `@key`, `@requires` and `@provides` (`id organization { id }`).

/// One selected field, with its sub-selection; `on` is set inside `... on T { }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub name: String,
    pub on: Option<String>,
    pub children: Vec<Selection>,
}

/// Parses a field set; `None` when it is not a valid selection of plain fields.
pub fn parse(text: &str) -> Option<Vec<Selection>> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let selections = parse_set(&tokens, &mut pos, None)?;
    (pos == tokens.len() && !selections.is_empty()).then_some(selections)
}

#[derive(Debug, PartialEq)]
enum Token {
    Name(String),
    Open,
    Close,
    Spread,
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() || c == ',' => {
                chars.next();
            }
            '{' => {
                chars.next();
                tokens.push(Token::Open);
            }
            '}' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '.' => {
                for _ in 0..3 {
                    (chars.next() == Some('.')).then_some(())?;
                }
                tokens.push(Token::Spread);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Name(name));
            }
            _ => return None,
        }
    }
    Some(tokens)
}

fn parse_set(tokens: &[Token], pos: &mut usize, on: Option<&str>) -> Option<Vec<Selection>> {
    let mut out = Vec::new();
    while let Some(token) = tokens.get(*pos) {
        match token {
            Token::Close => break,
            Token::Spread => {
                *pos += 1;
                let (Some(Token::Name(kw)), Some(Token::Name(ty)), Some(Token::Open)) =
                    (tokens.get(*pos), tokens.get(*pos + 1), tokens.get(*pos + 2))
                else {
                    return None;
                };
                (kw == "on").then_some(())?;
                *pos += 3;
                out.extend(parse_set(tokens, pos, Some(ty))?);
                (tokens.get(*pos) == Some(&Token::Close)).then_some(())?;
                *pos += 1;
            }
            Token::Name(name) => {
                *pos += 1;
                let mut children = Vec::new();
                if tokens.get(*pos) == Some(&Token::Open) {
                    *pos += 1;
                    children = parse_set(tokens, pos, None)?;
                    (tokens.get(*pos) == Some(&Token::Close) && !children.is_empty())
                        .then_some(())?;
                    *pos += 1;
                }
                out.push(Selection {
                    name: name.clone(),
                    on: on.map(str::to_owned),
                    children,
                });
            }
            Token::Open => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_typed_selections() {
        let parsed = parse("id organization { id name }, ... on Book { isbn }").expect("valid");
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].children.len(), 2);
        assert_eq!(parsed[2].on.as_deref(), Some("Book"));
        for bad in ["", "{ id }", "id {", "id { }", "a(b: 1)", "... Frag"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
