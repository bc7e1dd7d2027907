//! `voxdesk agents passwd`: replaces one agent's secret with digest hashes, as a textual edit
//! so every other line and comment of the agents file stays byte-identical.
//!
//! Hand-written rather than re-serialized YAML because no YAML emitter keeps comments; the
//! positions come from `acd::yaml`, and the result is parsed again to prove only that
//! agent's secret changed.

use std::path::Path;

use crate::sip::auth::{ha1, Algorithm};

use super::file::MAX_DEPTH;
use super::file::{self, FileError, FileProblem, Secret, MAX_FILE_BYTES};
use crate::yaml::{self, Node, Style};

/// Names the text in errors of [`set_password`]; [`set_password_in_file`] puts the path instead.
const TEXT_LABEL: &str = "agents file";

const SECRET_KEYS: [&str; 3] = ["password", "ha1", "ha1_sha256"];

/// Returns `text` with `user`'s `password:` (or `ha1:`/`ha1_sha256:`) lines replaced by
/// `ha1:` and `ha1_sha256:` lines for `realm`, at the same indentation.
pub fn set_password(
    text: &str,
    user: &str,
    realm: &str,
    password: &str,
) -> Result<String, FileError> {
    let error = |line: Option<usize>, problem| FileError {
        file: TEXT_LABEL.to_owned(),
        line,
        problem,
    };
    let before = file::parse_str(text, TEXT_LABEL)?;
    if password.is_empty() {
        return Err(error(None, FileProblem::EmptyPassword));
    }
    let root = yaml::parse(text, MAX_DEPTH)
        .map_err(|(line, problem)| error(Some(line), problem.into()))?
        .ok_or_else(|| error(None, FileProblem::Empty))?;
    let entry = find_agent(&root, user)
        .ok_or_else(|| error(None, FileProblem::UnknownUser(user.to_owned())))?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let starts_with_brace = lines
        .get(entry.line.wrapping_sub(1))
        .and_then(|l| l.chars().nth(entry.col))
        == Some('{');
    let Some(map) = entry.as_map().filter(|_| !starts_with_brace) else {
        let why = "flow-style entries like `- {user: bob, password: x}`; \
                   write this agent in block style, one key per line";
        return Err(error(Some(entry.line), FileProblem::NotEditable(why)));
    };
    let mut secret_keys: Vec<&Node> = Vec::new();
    for (key, value) in map {
        if !SECRET_KEYS.contains(&key.as_scalar().unwrap_or_default()) {
            continue;
        }
        let one_line = value.line == key.line
            && matches!(&value.value, yaml::Value::Scalar { style, .. } if *style != Style::Block);
        if !one_line {
            let why = "the secret must sit on the same line as its key";
            return Err(error(Some(key.line), FileProblem::NotEditable(why)));
        }
        secret_keys.push(key);
    }
    secret_keys.sort_by_key(|k| k.line);
    let Some(first) = secret_keys.first() else {
        return Err(error(Some(entry.line), FileProblem::NoSecret));
    };

    let md5 = ha1(Algorithm::Md5, user, realm, password);
    let sha256 = ha1(Algorithm::Sha256, user, realm, password);
    let mut out = String::with_capacity(text.len() + 128);
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        if number == first.line {
            let prefix: String = line.chars().take(first.col).collect();
            let indent: String = prefix
                .chars()
                .map(|c| if c.is_whitespace() { c } else { ' ' })
                .collect();
            let eol = line_ending(line);
            let inner_eol = if eol.is_empty() { "\n" } else { eol };
            out.push_str(&format!("{prefix}ha1: {md5}{inner_eol}"));
            out.push_str(&format!("{indent}ha1_sha256: {sha256}{eol}"));
        } else if !secret_keys.iter().any(|k| k.line == number) {
            out.push_str(line);
        }
    }

    let after = file::parse_str(&out, TEXT_LABEL).map_err(|_| {
        let why = "the secret's value continues on later lines; edit it by hand";
        error(Some(first.line), FileProblem::NotEditable(why))
    })?;
    let mut expected = before;
    if let Some(agent) = expected.agents.iter_mut().find(|a| a.user == user) {
        agent.secret = Secret::Ha1 {
            md5,
            sha256: Some(sha256),
        };
    }
    if without_lines(expected) != without_lines(after) {
        let why = "the edited file would mean something else; edit it by hand";
        return Err(error(Some(entry.line), FileProblem::NotEditable(why)));
    }
    Ok(out)
}

/// Reads `path`, sets `user`'s password and replaces the file atomically (same permissions).
/// `realm` defaults to the file's own. Returns the realm the hashes were made for.
pub fn set_password_in_file(
    path: &Path,
    user: &str,
    realm: Option<&str>,
    password: &str,
) -> Result<String, FileError> {
    let io = |e: std::io::Error| FileError {
        file: path.display().to_string(),
        line: None,
        problem: FileProblem::Io(e.to_string()),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(FileError {
            file: path.display().to_string(),
            line: None,
            problem: FileProblem::TooLarge(MAX_FILE_BYTES),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let with_path = |mut e: FileError| {
        e.file = path.display().to_string();
        e
    };
    let realm = match realm {
        Some(r) => r.to_owned(),
        None => file::parse_str(&text, TEXT_LABEL).map_err(with_path)?.realm,
    };
    let edited = set_password(&text, user, &realm, password).map_err(with_path)?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = std::path::PathBuf::from(temp);
    std::fs::write(&temp, edited).map_err(io)?;
    std::fs::set_permissions(&temp, meta.permissions()).map_err(io)?;
    std::fs::rename(&temp, path).map_err(io)?;
    Ok(realm)
}

fn find_agent<'a>(root: &'a Node, user: &str) -> Option<&'a Node> {
    let top = root.as_map()?;
    let (_, agents) = top.iter().find(|(k, _)| k.as_scalar() == Some("agents"))?;
    agents.as_seq()?.iter().find(|entry| {
        entry.as_map().is_some_and(|m| {
            m.iter()
                .any(|(k, v)| k.as_scalar() == Some("user") && v.as_scalar() == Some(user))
        })
    })
}

fn line_ending(line: &str) -> &'static str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

fn without_lines(mut f: file::AgentsFile) -> file::AgentsFile {
    f.agents.iter_mut().for_each(|a| a.line = 0);
    f.queues.iter_mut().for_each(|q| q.line = 0);
    f
}
