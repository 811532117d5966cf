//! `setup`, `init` and `doctor`: the commands that work before a plan exists or loads.

use std::process::ExitCode;

use anyhow::Result;
use storypack::app;

use super::{Cli, Command, emit};

/// `setup`, `init` and `doctor`: they work before a plan exists or loads.
pub(super) fn onboarding(cli: &Cli) -> Result<Option<ExitCode>> {
    use storypack::setup;
    let json = cli.global.json;
    match &cli.command {
        Command::Setup {
            client,
            scope,
            http,
            print,
        } => {
            let req = setup::SetupRequest {
                client: *client,
                scope: *scope,
                plan: setup::absolute_plan(&cli.global.plan)?,
                http: http.clone(),
                binary: setup::current_binary()?,
                print: *print,
            };
            let report = setup::setup(&req, &setup::Dirs::from_env()?)?;
            emit(json, &report, setup::render::setup(&report))?;
            Ok(Some(ExitCode::SUCCESS))
        }
        Command::Init { dir } => {
            let dir = dir.as_ref().unwrap_or(&cli.global.plan);
            let report = setup::init::init(dir, app::today())?;
            emit(json, &report, setup::render::init(&report))?;
            Ok(Some(ExitCode::SUCCESS))
        }
        Command::Doctor { http, token_env } => {
            let req = setup::doctor::DoctorRequest {
                plan: cli.global.plan.clone(),
                binary: setup::current_binary()?,
                version: env!("CARGO_PKG_VERSION"),
                store: match storypack::store::spec_from_env(cli.global.store.clone()) {
                    Some(spec) => setup::doctor::StoreTarget::Spec {
                        spec,
                        plan: cli.global.plan.clone(),
                    },
                    None => setup::doctor::StoreTarget::Files {
                        plan: cli.global.plan.clone(),
                    },
                },
                http: http.clone(),
                token_env: token_env.clone(),
            };
            let report = setup::doctor::doctor(&req, &setup::Dirs::from_env()?);
            emit(json, &report, setup::render::doctor(&report))?;
            Ok(Some(ExitCode::from(u8::from(report.problems > 0))))
        }
        _ => Ok(None),
    }
}

pub(super) fn parse_client(s: &str) -> Result<storypack::setup::Client, String> {
    s.parse()
}

pub(super) fn parse_scope(s: &str) -> Result<storypack::setup::Scope, String> {
    s.parse()
}
