//! Parses `script.txt`, the etcdctl command script of the differential test,
//! into steps. It only reads the text: running the steps is `transcript.rs`'s job.
//!
//! A line is one etcdctl command line without the leading `etcdctl`, split into
//! words the way a shell would (single and double quotes, backslash escapes in
//! double quotes, no expansion). `#` starts a comment line; blank lines are
//! ignored. `CMD <<END` feeds the following lines, up to a line `END`, to stdin.
//! Directives start with `@`:
//! - `@spawn NAME LINES CMD` starts CMD in the background;
//! - `@collect NAME` waits until it printed LINES lines, then stops it;
//! - `@watch LINES CMD` is a spawn immediately followed by its collect;
//! - LINES is a number of stdout lines, or `exit` to wait for the command to
//!   end by itself;
//! - `@await-empty CMD` repeats CMD until it succeeds with no output.

/// When a background command counts as finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// It printed this many lines to stdout; the test then stops it.
    Lines(usize),
    /// It exited by itself.
    Exit,
}

/// What one step of the script does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run etcdctl with these arguments and this stdin, wait for it to exit.
    Run { args: Vec<String>, stdin: String },
    /// Start etcdctl in the background under `name`.
    Spawn { name: String, until: Until, args: Vec<String> },
    /// Wait for the background command `name`, stop it and record its output.
    Collect { name: String },
    /// Run etcdctl repeatedly until it exits 0 with empty stdout.
    AwaitEmpty { args: Vec<String> },
}

/// One step, with where it came from so that a failure can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number in script.txt.
    pub line: usize,
    /// The command as written in the script, placeholders unexpanded.
    pub command: String,
    pub action: Action,
}

/// Parses the whole script; the error names the offending line.
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut spawned: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((line, raw)) = lines.next() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("script.txt line {line}: {e}");
        let mut words = split_words(trimmed).map_err(at)?;
        let directive = words[0].clone();
        match directive.as_str() {
            "@spawn" | "@watch" => {
                let named = directive == "@spawn";
                let min = if named { 4 } else { 3 };
                if words.len() < min {
                    return Err(at(format!("{directive} needs {} arguments", min - 1)));
                }
                let name = if named { words.remove(1) } else { format!("@watch line {line}") };
                let until = match words[1].as_str() {
                    "exit" => Until::Exit,
                    n => Until::Lines(n.parse().map_err(|_| at(format!("`{n}` is neither a line count nor `exit`")))?),
                };
                let args = words.split_off(2);
                let command = args.join(" ");
                if spawned.iter().any(|(n, _)| *n == name) {
                    return Err(at(format!("`{name}` is already running")));
                }
                steps.push(Step {
                    line,
                    command: command.clone(),
                    action: Action::Spawn { name: name.clone(), until, args },
                });
                if named {
                    spawned.push((name, command));
                } else {
                    steps.push(Step { line, command, action: Action::Collect { name } });
                }
            }
            "@collect" => {
                let [_, name] = words.as_slice() else {
                    return Err(at("@collect takes one name".to_owned()));
                };
                let Some(index) = spawned.iter().position(|(n, _)| n == name) else {
                    return Err(at(format!("nothing called `{name}` was spawned")));
                };
                let (name, command) = spawned.remove(index);
                steps.push(Step { line, command, action: Action::Collect { name } });
            }
            "@await-empty" => {
                let args = words.split_off(1);
                if args.is_empty() {
                    return Err(at("@await-empty needs a command".to_owned()));
                }
                steps.push(Step { line, command: args.join(" "), action: Action::AwaitEmpty { args } });
            }
            d if d.starts_with('@') => return Err(at(format!("unknown directive `{d}`"))),
            _ => {
                let mut stdin = String::new();
                if let Some(marker) = words.last().and_then(|w| w.strip_prefix("<<")).map(str::to_owned) {
                    words.pop();
                    loop {
                        let Some((_, input)) = lines.next() else {
                            return Err(at(format!("stdin is not closed by a line `{marker}`")));
                        };
                        if input.trim() == marker {
                            break;
                        }
                        stdin.push_str(input);
                        stdin.push('\n');
                    }
                }
                steps.push(Step { line, command: trimmed.to_owned(), action: Action::Run { args: words, stdin } });
            }
        }
    }
    if let Some((name, _)) = spawned.first() {
        return Err(format!("script.txt: `{name}` is spawned but never collected"));
    }
    Ok(steps)
}

/// Splits a command line into words like a POSIX shell, without expansion.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unclosed single quote".to_owned()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("unclosed double quote".to_owned()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("unclosed double quote".to_owned()),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[test]
fn parses_every_kind_of_step() {
    let text = "# comment\n\nput \"\" 'a b'\ntxn <<END\nvalue(\"a\") = \"1\"\n\nEND\n@spawn w 3 watch a\n@collect w\n@watch exit watch b\n@await-empty get c\n";
    let steps = parse(text).expect("the example parses");
    let actions: Vec<Action> = steps.into_iter().map(|s| s.action).collect();
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        actions,
        vec![
            Action::Run { args: words(&["put", "", "a b"]), stdin: String::new() },
            Action::Run { args: words(&["txn"]), stdin: "value(\"a\") = \"1\"\n\n".to_owned() },
            Action::Spawn { name: "w".to_owned(), until: Until::Lines(3), args: words(&["watch", "a"]) },
            Action::Collect { name: "w".to_owned() },
            Action::Spawn { name: "@watch line 10".to_owned(), until: Until::Exit, args: words(&["watch", "b"]) },
            Action::Collect { name: "@watch line 10".to_owned() },
            Action::AwaitEmpty { args: words(&["get", "c"]) },
        ]
    );
}

#[test]
fn rejects_broken_scripts() {
    for (text, error) in [
        ("put 'a", "line 1: unclosed single quote"),
        ("@collect w", "line 1: nothing called `w` was spawned"),
        ("@spawn w 3 watch a", "`w` is spawned but never collected"),
        ("@watch some watch a", "line 1: `some` is neither a line count nor `exit`"),
        ("txn <<END\nput a 1\n", "line 1: stdin is not closed by a line `END`"),
        ("@sleep 1", "line 1: unknown directive `@sleep`"),
    ] {
        let got = parse(text).expect_err(text);
        assert!(got.contains(error), "{text:?}: got {got:?}, want it to contain {error:?}");
    }
}
