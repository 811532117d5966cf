//! Merging the storypack entry into a client config, keeping everything else.
//!
//! Each format is edited through a lossless tree, so only the storypack entry's bytes change:
//! JSON and VS Code's JSONC with `jsonc-parser`'s CST (comments, other servers, indentation and
//! trailing-comma style kept), TOML with `toml_edit` (comments, key order, table layout kept),
//! YAML with `yaml-edit` (comments, key order, quoting and indentation kept). Whether a file
//! parses is decided by a strict reader of its format (serde_json, jsonc-parser with only
//! comments and trailing commas allowed, toml, saphyr): what it refuses is left untouched.
//!
//! Every edit is checked before it is written: the new text is parsed again, its storypack
//! entry must be exactly the merged entry, and the rest of the document must equal what was
//! read. An editor slip becomes an error, never a damaged config.

use serde_json::{Map, Value};

use super::clients::{Entry, Format, Location, SERVER_NAME};
use super::{FileChange, SetupError, read_optional};

/// Reads the config and merges the entry into it: the change to write (or none).
pub(crate) fn upsert(location: &Location, entry: &Entry) -> Result<FileChange, SetupError> {
    let old = read_optional(&location.path)?;
    let new =
        merge_text(old.as_deref(), location, entry).map_err(|reason| SetupError::Unparsable {
            path: location.path.display().to_string(),
            format: location.format.name(),
            reason,
        })?;
    Ok(FileChange::new(location.path.clone(), old, new))
}

/// The storypack entry of a config as JSON: `Ok(None)` when the file or the entry is absent,
/// `Err` with the reason when the file does not parse.
pub(crate) fn read_entry(location: &Location) -> Result<Option<Value>, String> {
    let text = match read_optional(&location.path) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let doc = parse_value(&text, location.format)?;
    Ok(doc
        .get(location.table)
        .and_then(|t| t.get(SERVER_NAME))
        .cloned())
}

/// The new text of the file, or `None` when it already holds the entry.
fn merge_text(
    old: Option<&str>,
    location: &Location,
    entry: &Entry,
) -> Result<Option<String>, String> {
    let text = old.unwrap_or("");
    let before = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        parse_value(text, location.format)?
    };
    let Value::Object(root) = &before else {
        return Err("the top level is not a table of keys".into());
    };
    let table = location.table;
    let existing = match root.get(table) {
        None | Some(Value::Null) => None,
        Some(Value::Object(servers)) => servers.get(SERVER_NAME),
        Some(_) => return Err(format!("`{table}` is not a table of servers")),
    };
    if let Some(e) = existing
        && !e.is_object()
    {
        return Err(format!("`{table}.{SERVER_NAME}` is not a table"));
    }
    let merged = entry.merged(existing);
    if existing == Some(&merged) {
        return Ok(None);
    }
    let new = match location.format {
        Format::Json | Format::Jsonc => edit_json(text, location, entry, existing.is_some())?,
        Format::Toml => edit_toml(text, table, entry)?,
        Format::Yaml => edit_yaml(text, table, entry)?,
    };
    verify(&before, &new, location, &merged)?;
    Ok(Some(new))
}

/// The whole document as JSON, by the strict reader of its format.
pub(crate) fn parse_value(text: &str, format: Format) -> Result<Value, String> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        Format::Jsonc => jsonc_parser::parse_to_serde_value::<Value>(text, &jsonc_options(format))
            .map_err(|e| e.to_string()),
        Format::Toml => {
            let v: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
            serde_json::to_value(v).map_err(|e| e.to_string())
        }
        Format::Yaml => yaml_value(text),
    }
}

fn jsonc_options(format: Format) -> jsonc_parser::ParseOptions {
    let jsonc = format == Format::Jsonc;
    jsonc_parser::ParseOptions {
        allow_comments: jsonc,
        allow_trailing_commas: jsonc,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Marks a refusal that is not a parse error: the edit itself did not check out.
const UNMERGEABLE: &str = "unmergeable: ";

/// The new text must hold the merged entry, and be the old document everywhere else.
fn verify(before: &Value, new: &str, location: &Location, merged: &Value) -> Result<(), String> {
    let after = parse_value(new, location.format).map_err(|e| {
        format!("{UNMERGEABLE}storypack's edit does not parse ({e}); nothing written")
    })?;
    let table = location.table;
    let got = after.get(table).and_then(|t| t.get(SERVER_NAME));
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(root) = v.as_object_mut() {
            if let Some(Value::Object(servers)) = root.get_mut(table) {
                servers.remove(SERVER_NAME);
                if servers.is_empty() {
                    root.remove(table);
                }
            } else if root.get(table) == Some(&Value::Null) {
                root.remove(table);
            }
        }
        v
    };
    if got != Some(merged) || strip(before) != strip(&after) {
        return Err(format!(
            "{UNMERGEABLE}storypack could not merge its entry into `{table}` without changing anything \
             else; nothing written. Add it by hand: {}",
            serde_json::to_string(merged).unwrap_or_default()
        ));
    }
    Ok(())
}

// ---- JSON and JSONC -------------------------------------------------------------------------

fn edit_json(
    text: &str,
    location: &Location,
    entry: &Entry,
    has_entry: bool,
) -> Result<String, String> {
    use jsonc_parser::cst::CstRootNode;
    // A new file gets `{}` to grow from (the CST then indents with two spaces).
    let text = if text.trim().is_empty() { "{}\n" } else { text };
    let root =
        CstRootNode::parse(text, &jsonc_options(location.format)).map_err(|e| e.to_string())?;
    let obj = root.object_value_or_set();
    let servers = match obj.get(location.table) {
        Some(prop) => match prop.object_value() {
            Some(o) => o,
            // `"mcpServers": null`
            None => {
                prop.set_value(jsonc_parser::cst::CstInputValue::Object(Vec::new()));
                prop.object_value()
                    .ok_or_else(|| format!("`{}` is not a table of servers", location.table))?
            }
        },
        None => obj.object_value_or_set(location.table),
    };
    match servers.get(SERVER_NAME).and_then(|p| p.object_value()) {
        Some(current) if has_entry => {
            for key in &entry.remove {
                if let Some(p) = current.get(key) {
                    p.remove();
                }
            }
            for (key, value) in &entry.set {
                match current.get(key) {
                    Some(p) => p.set_value(cst_input(value)),
                    None => {
                        current.append(key, cst_input(value));
                    }
                }
            }
            for (key, value) in &entry.defaults {
                if current.get(key).is_none() {
                    current.append(key, cst_input(value));
                }
            }
        }
        _ => {
            let pairs = entry
                .fresh_pairs()
                .into_iter()
                .map(|(k, v)| (k.to_string(), cst_input(&v)))
                .collect();
            servers.append(SERVER_NAME, jsonc_parser::cst::CstInputValue::Object(pairs));
        }
    }
    Ok(root.to_string())
}

fn cst_input(v: &Value) -> jsonc_parser::cst::CstInputValue {
    use jsonc_parser::cst::CstInputValue as I;
    match v {
        Value::Null => I::Null,
        Value::Bool(b) => I::Bool(*b),
        Value::Number(n) => I::Number(n.to_string()),
        Value::String(s) => I::String(s.clone()),
        Value::Array(a) => I::Array(a.iter().map(cst_input).collect()),
        Value::Object(m) => I::Object(m.iter().map(|(k, v)| (k.clone(), cst_input(v))).collect()),
    }
}

// ---- TOML -----------------------------------------------------------------------------------

fn edit_toml(text: &str, table: &str, entry: &Entry) -> Result<String, String> {
    use toml_edit::{DocumentMut, Item, Table};
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    if !doc.contains_key(table) {
        let mut t = Table::new();
        t.set_implicit(true);
        doc.insert(table, Item::Table(t));
    }
    let inline = doc.get(table).is_some_and(Item::is_inline_table);
    let servers = doc
        .get_mut(table)
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| format!("`{table}` is not a table of servers"))?;
    if !servers.contains_key(SERVER_NAME) {
        if inline {
            servers.insert(
                SERVER_NAME,
                Item::Value(toml_edit::Value::InlineTable(toml_edit::InlineTable::new())),
            );
        } else {
            servers.insert(SERVER_NAME, Item::Table(Table::new()));
        }
    }
    let current = servers
        .get_mut(SERVER_NAME)
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| format!("`{table}.{SERVER_NAME}` is not a table"))?;
    for key in &entry.remove {
        current.remove(key);
    }
    for (key, value) in &entry.set {
        current.insert(key, Item::Value(toml_value(value)));
    }
    for (key, value) in &entry.defaults {
        if !current.contains_key(key) {
            current.insert(key, Item::Value(toml_value(value)));
        }
    }
    Ok(doc.to_string())
}

fn toml_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(0.0).into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(a) => toml_edit::Value::Array(a.iter().map(toml_value).collect()),
        Value::Object(m) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in m {
                t.insert(k, toml_value(v));
            }
            toml_edit::Value::InlineTable(t)
        }
        // TOML has no null; entries never hold one.
        Value::Null => "".into(),
    }
}

// ---- YAML -----------------------------------------------------------------------------------

/// The one YAML document of a file as JSON (saphyr, strict YAML 1.2).
fn yaml_value(text: &str) -> Result<Value, String> {
    use saphyr::LoadableYamlNode;
    let docs = saphyr::Yaml::load_from_str(text).map_err(|e| e.to_string())?;
    match docs.len() {
        0 => Ok(Value::Object(Map::new())),
        1 => Ok(docs.first().map(yaml_to_json).unwrap_or(Value::Null)),
        n => Err(format!("{n} YAML documents in one file; expected one")),
    }
}

fn yaml_to_json(y: &saphyr::Yaml) -> Value {
    use saphyr::{Scalar, Yaml};
    match y {
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Representation(s, _, _) => Value::String(s.to_string()),
        Yaml::Sequence(seq) => Value::Array(seq.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(_, inner) => yaml_to_json(inner),
        Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

fn edit_yaml(text: &str, table: &str, entry: &Entry) -> Result<String, String> {
    use std::str::FromStr;
    use yaml_edit::Document;
    if text.trim().is_empty() {
        let mut b = yaml_edit::MappingBuilder::new();
        b = b.mapping(table, |outer| {
            outer.mapping(SERVER_NAME, |mut inner| {
                for (k, v) in entry.fresh_pairs() {
                    inner = yaml_pair(inner, k, &v);
                }
                inner
            })
        });
        return Ok(b.build_document().to_string());
    }
    let doc = Document::from_str(text).map_err(|e| e.to_string())?;
    let root = doc
        .as_mapping()
        .ok_or("the top level is not a table of keys")?;
    let servers = root.get_mapping(table);
    let current = servers.as_ref().and_then(|s| s.get_mapping(SERVER_NAME));
    match (servers, current) {
        (None, _) => {
            let fresh = yaml_edit::MappingBuilder::new()
                .mapping(SERVER_NAME, |mut inner| {
                    for (k, v) in entry.fresh_pairs() {
                        inner = yaml_pair(inner, k, &v);
                    }
                    inner
                })
                .build_document();
            let m = fresh.as_mapping().ok_or("internal: no mapping built")?;
            root.set(table, &m);
        }
        (Some(servers), None) => {
            let fresh = yaml_mapping(&entry.fresh_pairs());
            let m = fresh.as_mapping().ok_or("internal: no mapping built")?;
            servers.set(SERVER_NAME, &m);
        }
        (Some(_), Some(current)) => {
            for key in &entry.remove {
                current.remove(*key);
            }
            let mut pairs: Vec<(&str, Value)> =
                entry.set.iter().map(|(k, v)| (*k, v.clone())).collect();
            for (key, value) in &entry.defaults {
                if !current.contains_key(*key) {
                    pairs.push((key, value.clone()));
                }
            }
            let values = yaml_mapping(&pairs);
            let values = values.as_mapping().ok_or("internal: no mapping built")?;
            for (key, _) in &pairs {
                if let Some(node) = values.get(*key) {
                    current.set(*key, &node);
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// A block mapping document of these pairs.
fn yaml_mapping(pairs: &[(&str, Value)]) -> yaml_edit::Document {
    let mut b = yaml_edit::MappingBuilder::new();
    for (k, v) in pairs {
        b = yaml_pair(b, k, v);
    }
    b.build_document()
}

fn yaml_pair(b: yaml_edit::MappingBuilder, key: &str, v: &Value) -> yaml_edit::MappingBuilder {
    match v {
        Value::Null => b.pair(key, Option::<&str>::None),
        Value::Bool(x) => b.pair(key, *x),
        Value::Number(n) => match n.as_i64() {
            Some(i) => b.pair(key, i),
            None => b.pair(key, n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => b.pair(key, s.as_str()),
        Value::Array(items) => b.sequence(key, |mut s| {
            for item in items {
                s = match item {
                    Value::String(x) => s.item(x.as_str()),
                    other => s.item(other.to_string().as_str()),
                };
            }
            s
        }),
        Value::Object(m) => b.mapping(key, |mut inner| {
            for (k, v) in m {
                inner = yaml_pair(inner, k, v);
            }
            inner
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::clients::{Client, Launch};
    use std::path::PathBuf;

    fn location(format: Format, table: &'static str) -> Location {
        Location {
            path: PathBuf::from("/nonexistent/config"),
            format,
            table,
        }
    }

    fn stdio(client: Client) -> Entry {
        client.entry(&Launch::Stdio {
            command: "/opt/bin/storypack".into(),
            args: vec![
                "serve".into(),
                "--plan".into(),
                "/work/plan: a \"b\"".into(),
            ],
        })
    }

    #[test]
    fn jsonc_keeps_comments_and_other_servers_and_is_idempotent() {
        let text = "{\n  // my servers\n  \"servers\": {\n    \"other\": { \"command\": \"x\" }, // keep\n  },\n  \"inputs\": []\n}\n";
        let loc = location(Format::Jsonc, "servers");
        let entry = stdio(Client::Vscode);
        let new = merge_text(Some(text), &loc, &entry).unwrap().unwrap();
        assert!(new.contains("  // my servers\n"), "{new}");
        assert!(
            new.contains("\"other\": { \"command\": \"x\" }, // keep\n"),
            "{new}"
        );
        assert_eq!(merge_text(Some(&new), &loc, &entry).unwrap(), None);
    }

    #[test]
    fn strict_json_refuses_comments() {
        let loc = location(Format::Json, "mcpServers");
        let err = merge_text(Some("{ // no\n}"), &loc, &stdio(Client::Cursor)).unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn toml_keeps_comments_and_tables() {
        let text = "# codex\nmodel = \"o3\" # the model\n\n[mcp_servers.other]\ncommand = \"x\"\n\n[profiles.fast]\nmodel = \"o4-mini\"\n";
        let loc = location(Format::Toml, "mcp_servers");
        let entry = stdio(Client::Codex);
        let new = merge_text(Some(text), &loc, &entry).unwrap().unwrap();
        // The new table joins its siblings; every other byte stays.
        let block = "[mcp_servers.storypack]\ncommand = \"/opt/bin/storypack\"\nargs = [\"serve\", \"--plan\", '/work/plan: a \"b\"']\n\n";
        assert_eq!(new.replacen(block, "", 1), text, "{new}");
        assert_eq!(merge_text(Some(&new), &loc, &entry).unwrap(), None);
    }

    #[test]
    fn toml_inline_server_table_gets_an_inline_entry() {
        let text = "mcp_servers = { other = { command = \"x\" } }\n";
        let loc = location(Format::Toml, "mcp_servers");
        let entry = stdio(Client::Codex);
        let new = merge_text(Some(text), &loc, &entry).unwrap().unwrap();
        assert_eq!(merge_text(Some(&new), &loc, &entry).unwrap(), None, "{new}");
    }

    #[test]
    fn yaml_keeps_comments_and_updates_in_place() {
        let text = "# goose\nGOOSE_PROVIDER: openai # provider\nextensions:\n  developer:\n    enabled: true # on\n    type: builtin\n  storypack:\n    enabled: false\n    type: stdio\n    cmd: /old/storypack\n    args: [serve]\n    timeout: 60 # mine\n# end\n";
        let loc = location(Format::Yaml, "extensions");
        let entry = stdio(Client::Goose);
        let new = merge_text(Some(text), &loc, &entry).unwrap().unwrap();
        for kept in [
            "# goose\n",
            "openai # provider\n",
            "enabled: true # on\n",
            "timeout: 60 # mine",
            "# end\n",
        ] {
            assert!(new.contains(kept), "{kept:?} lost:\n{new}");
        }
        assert_eq!(merge_text(Some(&new), &loc, &entry).unwrap(), None, "{new}");
    }

    #[test]
    fn yaml_without_extensions_gets_a_block() {
        let loc = location(Format::Yaml, "extensions");
        let entry = stdio(Client::Goose);
        for text in [
            "GOOSE_PROVIDER: openai\n",
            "",
            "extensions:\n",
            "extensions: {}\n",
        ] {
            let new = merge_text(Some(text), &loc, &entry).unwrap().unwrap();
            assert_eq!(merge_text(Some(&new), &loc, &entry).unwrap(), None, "{new}");
        }
    }
}
