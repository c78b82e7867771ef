//! End-to-end tests: real `meseta master` and `meseta agent` processes on
//! loopback ports, frameworks built on the Rust client core, real tasks.
//! One test binary (modules below) so the workspace links it once.

mod common;

mod agent_restart;
mod agents;
mod bad_input;
mod cli;
mod docker;
mod docker_env;
mod endpoints;
mod exec;
mod executors;
mod failover;
mod gpus;
mod groups;
mod ha;
mod ha_rounds;
mod images;
mod isolation;
mod leadership;
mod local_control;
mod log_files;
mod maintenance;
mod multi_role;
mod offer_constraints;
mod offers;
mod operator_api;
mod quota;
mod raw_scheduler;
mod registry;
mod reservations;
mod sim_agents;
mod tasks;
mod update_framework;
mod v1_mesos;
mod webui;
mod weights;
