//! Pack recipes: which plan parts a pack draws on, with weights, token caps and which parts
//! are mandatory. Shipped recipes are compiled in; a plan's own `packs/*.toml` override them
//! by name or add new ones.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Diagnostic, Severity};

/// The recipes shipped with storypack (`packs/*.toml`).
const SHIPPED: &[(&str, &str)] = &[
    (
        "packs/default.toml",
        include_str!("../../packs/default.toml"),
    ),
    (
        "packs/devops-sre.toml",
        include_str!("../../packs/devops-sre.toml"),
    ),
    (
        "packs/backend.toml",
        include_str!("../../packs/backend.toml"),
    ),
    (
        "packs/frontend.toml",
        include_str!("../../packs/frontend.toml"),
    ),
    ("packs/qa.toml", include_str!("../../packs/qa.toml")),
];

/// A part of the plan a pack can draw on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The story itself: fields and acceptance criteria.
    Story,
    /// Stories it depends on.
    Dependencies,
    /// Its epic's section of the feature doc.
    Epic,
    /// The feature's introduction.
    Feature,
    /// The sprint's theme, gate, epics, dates and the role's focus and week priorities.
    Sprint,
    /// The constant per-sprint checklist.
    Checklist,
    /// The role's sprint plan sections for the story's sprint.
    RolePlan,
    /// The sprint's gate evidence checklist.
    Gate,
    /// ADRs and interface docs, ranked.
    Architecture,
    /// Engineering playbooks, ranked.
    Playbooks,
    /// Governance risks and dependencies, ranked.
    Governance,
    /// AI-agent execution policy, ranked.
    AgentExecution,
    /// Earlier handoffs of the story and of its dependencies.
    Handoffs,
}

impl Part {
    fn as_str(self) -> &'static str {
        match self {
            Part::Story => "story",
            Part::Dependencies => "dependencies",
            Part::Epic => "epic",
            Part::Feature => "feature",
            Part::Sprint => "sprint",
            Part::Checklist => "checklist",
            Part::RolePlan => "role_plan",
            Part::Gate => "gate",
            Part::Architecture => "architecture",
            Part::Playbooks => "playbooks",
            Part::Governance => "governance",
            Part::AgentExecution => "agent_execution",
            Part::Handoffs => "handoffs",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    pub part: Part,
    pub weight: f64,
    /// Most tokens this part may take in a pack.
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub mandatory: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Glob patterns over role slugs (`devops*`, `*sre*`) that pick this recipe.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Ranked excerpts whose relevance is below this are left out.
    #[serde(default = "default_min_score")]
    pub min_score: f64,
    pub parts: Vec<PartSpec>,
}

fn default_min_score() -> f64 {
    0.25
}

impl Recipe {
    pub(crate) fn part(&self, part: Part) -> Option<&PartSpec> {
        self.parts.iter().find(|p| p.part == part)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "name `{}` must be letters, digits, - or _",
                self.name
            ));
        }
        if !self
            .parts
            .iter()
            .any(|p| p.part == Part::Story && p.mandatory)
        {
            return Err("the `story` part must be listed and mandatory".into());
        }
        for (i, p) in self.parts.iter().enumerate() {
            if self.parts[..i].iter().any(|q| q.part == p.part) {
                return Err(format!("part {} is listed twice", p.part.as_str()));
            }
            if !(p.weight.is_finite() && p.weight > 0.0) {
                return Err(format!(
                    "part {}: weight must be a positive number",
                    p.part.as_str()
                ));
            }
        }
        for pattern in &self.roles {
            globset::Glob::new(pattern).map_err(|e| format!("roles pattern `{pattern}`: {e}"))?;
        }
        Ok(())
    }

    /// Its role patterns as one matcher (checked by `check`, so none is dropped).
    fn matcher(&self) -> globset::GlobSet {
        let mut set = globset::GlobSetBuilder::new();
        for pattern in &self.roles {
            if let Ok(g) = globset::Glob::new(pattern) {
                set.add(g);
            }
        }
        set.build().unwrap_or_else(|_| globset::GlobSet::empty())
    }
}

/// The recipes in force: shipped ones, overridden by name by the plan's own.
#[derive(Debug, Clone)]
pub struct Recipes {
    recipes: Vec<Recipe>,
    /// Per recipe, its role patterns compiled.
    matchers: Vec<globset::GlobSet>,
}

/// Largest recipe file read.
const MAX_RECIPE_BYTES: u64 = 1024 * 1024;

/// The plan's own recipes, `<root>/packs/*.toml`, as (relative path, text), in path order.
fn read_dir(root: &std::path::Path, diags: &mut Vec<Diagnostic>) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(root.join("packs")) else {
        return Vec::new();
    };
    let mut paths: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let path = format!("packs/{name}");
        let problem = |code: &str, message: String| Diagnostic {
            severity: Severity::Warning,
            code: code.into(),
            path: path.clone(),
            line: 1,
            message,
        };
        match crate::regular::read(&p, MAX_RECIPE_BYTES) {
            Ok(Ok(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => out.push((path, text)),
                Err(_) => diags.push(problem("recipe", "pack recipe not used: not UTF-8".into())),
            },
            Ok(Err(len)) => diags.push(problem(
                "recipe",
                format!("pack recipe not used: {len} bytes is over the 1 MiB limit"),
            )),
            Err(crate::regular::OpenError::NotRegular(kind)) => diags.push(problem(
                "not-regular",
                format!("not a regular file: {kind}; skipped"),
            )),
            // A folder named `*.toml` is not a recipe; a vanished file is not one either.
            Err(crate::regular::OpenError::Folder) => {}
            Err(crate::regular::OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => diags.push(problem("recipe", format!("pack recipe not used: {e}"))),
        }
    }
    out
}

impl Recipes {
    /// Shipped recipes plus the plan's (`(path, text)` of each `packs/*.toml`); a recipe that
    /// does not parse is a diagnostic and the shipped one of that name stays in force.
    pub(crate) fn load(overrides: &[(String, String)], diags: &mut Vec<Diagnostic>) -> Recipes {
        let mut recipes: Vec<Recipe> = Vec::new();
        let shipped = SHIPPED
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string(), true));
        let local = overrides.iter().map(|(p, t)| (p.clone(), t.clone(), false));
        for (path, text, builtin) in shipped.chain(local) {
            let parsed = toml::from_str::<Recipe>(&text)
                .map_err(|e| e.message().to_string())
                .and_then(|r| r.check().map(|()| r));
            match parsed {
                Ok(r) => match recipes.iter().position(|x| x.name == r.name) {
                    Some(i) => recipes[i] = r,
                    None => recipes.push(r),
                },
                Err(message) => diags.push(Diagnostic {
                    severity: if builtin {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    code: "recipe".into(),
                    path,
                    line: 1,
                    message: format!("pack recipe not used: {message}"),
                }),
            }
        }
        recipes.sort_by(|a, b| a.name.cmp(&b.name));
        let matchers = recipes.iter().map(Recipe::matcher).collect();
        Recipes { recipes, matchers }
    }

    /// [`Recipes::load`] with the plan's own `<root>/packs/*.toml`. Only regular files are
    /// read: a FIFO, socket or device there is a `not-regular` diagnostic, and a recipe that
    /// cannot be read a `recipe` one.
    pub(crate) fn load_dir(root: &std::path::Path, diags: &mut Vec<Diagnostic>) -> Recipes {
        let overrides = read_dir(root, diags);
        Recipes::load(&overrides, diags)
    }

    pub(crate) fn names(&self) -> Vec<&str> {
        self.recipes.iter().map(|r| r.name.as_str()).collect()
    }

    pub(crate) fn get(&self, name: &str) -> Result<&Recipe, Error> {
        self.recipes.iter().find(|r| r.name == name).ok_or_else(|| {
            Error::not_found(
                "recipe",
                format!(
                    "no recipe `{}` (known: {})",
                    name.chars().take(64).collect::<String>(),
                    self.names().join(", ")
                ),
            )
        })
    }

    /// The recipe for a role: the first (by name) whose patterns match, else `default`.
    pub(crate) fn for_role(&self, role: Option<&str>) -> Result<&Recipe, Error> {
        if let Some(role) = role
            && let Some(i) = self.matchers.iter().position(|m| m.is_match(role))
        {
            return Ok(&self.recipes[i]);
        }
        self.get("default")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_recipes_parse_and_match_roles() {
        let mut d = Vec::new();
        let r = Recipes::load(&[], &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            r.names(),
            ["backend", "default", "devops-sre", "frontend", "qa"]
        );
        assert_eq!(
            r.for_role(Some("devops-sre-engineer")).unwrap().name,
            "devops-sre"
        );
        assert_eq!(
            r.for_role(Some("backend-engineer")).unwrap().name,
            "backend"
        );
        assert_eq!(r.for_role(Some("qa-engineer")).unwrap().name, "qa");
        assert_eq!(r.for_role(Some("product-manager")).unwrap().name, "default");
        assert_eq!(r.for_role(None).unwrap().name, "default");
        assert_eq!(r.get("nope").unwrap_err().field(), Some("recipe"));
    }

    #[test]
    fn plan_recipes_override_by_name_and_bad_ones_are_reported() {
        let mine = "name = \"default\"\nmin_score = 0.9\n[[parts]]\npart = \"story\"\nweight = 1.0\nmandatory = true\n";
        let bad = "name = \"broken\"\n[[parts]]\npart = \"epic\"\nweight = 1.0\n";
        let mut d = Vec::new();
        let r = Recipes::load(
            &[
                ("packs/default.toml".into(), mine.into()),
                ("packs/broken.toml".into(), bad.into()),
            ],
            &mut d,
        );
        assert_eq!(r.get("default").unwrap().min_score, 0.9);
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("story"), "{d:?}");
        assert!(r.get("broken").is_err());

        let twice = "name = \"twice\"\n[[parts]]\npart = \"story\"\nweight = 1.0\nmandatory = true\n[[parts]]\npart = \"playbooks\"\nweight = 0.5\n[[parts]]\npart = \"playbooks\"\nweight = 0.7\n";
        let mut d = Vec::new();
        let r = Recipes::load(&[("packs/twice.toml".into(), twice.into())], &mut d);
        assert!(r.get("twice").is_err());
        assert!(
            d[0].message.contains("part playbooks is listed twice"),
            "{d:?}"
        );
    }
}
