//! `ifr cluster scheduler` and `ifr cluster executor` (the `ballista` feature): an Apache Ballista
//! scheduler and executors from the same build as ifr (the library crates of Ballista, so that a
//! cluster needs no other binary and runs the same DataFusion as the client).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};

fn engine_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Engine { engine: "ballista".into(), message: format!("{what}: {e}") }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| engine_error("starting the runtime", e))
}

/// Run a scheduler listening on `bind` until the process is stopped.
pub fn scheduler(bind: SocketAddr) -> Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        ..SchedulerConfig::default()
    };
    runtime()?.block_on(async {
        let cluster = BallistaCluster::new_from_config(&config).await.map_err(|e| engine_error("setting up the scheduler", e))?;
        ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config))
            .await
            .map_err(|e| engine_error(&format!("the scheduler on {bind}"), e))
    })
}

/// What `ifr cluster executor` is given.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, host:port.
    pub scheduler: SocketAddr,
    /// Where this executor listens for the shuffle (Arrow Flight); the gRPC port is the next one.
    pub bind: SocketAddr,
    /// Tasks run at once (default: the machine's cores).
    pub concurrent_tasks: Option<usize>,
    /// Folder for shuffle files (default: a temporary folder, removed at exit).
    pub work_dir: Option<PathBuf>,
}

/// Run an executor registered with the scheduler until the process is stopped.
pub fn executor(o: &ExecutorOptions) -> Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let grpc_port =
        o.bind.port().checked_add(1).ok_or_else(|| Error::Config(format!("--bind {}: the next port (gRPC) is past 65535", o.bind)))?;
    let mut config = ExecutorProcessConfig {
        bind_host: o.bind.ip().to_string(),
        external_host: Some(o.bind.ip().to_string()),
        port: o.bind.port(),
        grpc_port,
        scheduler_host: o.scheduler.ip().to_string(),
        scheduler_port: o.scheduler.port(),
        // Wait for a scheduler started at the same time.
        scheduler_connect_timeout_seconds: 30,
        work_dir: o.work_dir.as_ref().map(|d| d.display().to_string()),
        ..ExecutorProcessConfig::default()
    };
    if let Some(n) = o.concurrent_tasks {
        config.vcores = n.max(1);
    }
    runtime()?.block_on(async {
        start_executor_process(Arc::new(config)).await.map_err(|e| engine_error(&format!("the executor on {}", o.bind), e))
    })
}
