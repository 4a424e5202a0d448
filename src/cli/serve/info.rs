//! INFO: the sections monitoring tools and client libraries read
//! (`server`, `clients`, `persistence`, `stats`, `replication`, `cluster`,
//! `keyspace`), in Redis's
//! `field:value` lines, with tinykv's own fields beside Redis's.
//!
//! Mapping, where Redis's words do not fit a log-structured store: the
//! write-ahead log is always on (`aof_enabled:1`; `tinykv_sync` says whether
//! writes are fsynced before the reply), a compaction is the AOF rewrite
//! (`aof_rewrite_in_progress`, `aof_last_bgrewrite_status`), and there are
//! no RDB saves (`rdb_*` report none in progress, last saved at the last
//! compaction or the start; the snapshot SYNC sends, snapshot.rs, is not
//! one: it is sent, never kept). Replication: a master with no replicas,
//! and no cluster.
//!
//! Invariant: the keyspace line is exact, from the engine's kept count of
//! live keys (and of those that expire), like DBSIZE: no section walks the
//! keys.

use std::fmt::Write as _;
use std::time::UNIX_EPOCH;

use super::ctx::{Ctx, Flow};
use super::table::REDIS_VERSION;
use crate::engine::{Stats, SyncMode};

/// Redis's order.
const SECTIONS: [&str; 7] = [
    "server",
    "clients",
    "persistence",
    "stats",
    "replication",
    "cluster",
    "keyspace",
];

/// INFO [section...].
pub fn info(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let asked: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = asked.is_empty()
        || asked
            .iter()
            .any(|a| matches!(a.as_str(), "all" | "default" | "everything"));
    let wanted: Vec<&str> = SECTIONS
        .into_iter()
        .filter(|s| everything || asked.iter().any(|a| a == s))
        .collect();
    // One walk of the keys serves both sections that need one.
    let walked = if wanted.contains(&"persistence") || wanted.contains(&"keyspace") {
        match ctx.server.db.stats() {
            Ok(stats) => Some(stats),
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        }
    } else {
        None
    };
    let walked = walked.unwrap_or_default();
    let mut text = String::new();
    for section in wanted {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        match section {
            "server" => server(ctx, &mut text),
            "clients" => clients(ctx, &mut text),
            "persistence" => persistence(ctx, &walked, &mut text),
            "stats" => stats(ctx, &mut text),
            "replication" => replication(ctx, &mut text),
            "cluster" => text.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            _ => keyspace(&walked, &mut text),
        }
    }
    ctx.out.bulk(text.as_bytes());
    Flow::Continue
}

fn server(ctx: &Ctx<'_>, text: &mut String) {
    let s = ctx.server;
    let uptime = s.started.elapsed().as_secs();
    let _ = write!(
        text,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\ntinykv_version:{}\r\nredis_mode:standalone\r\n\
         os:{} {}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\n\
         tcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nexecutable:{}\r\n\
         tinykv_dir:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        s.settings.bound.map_or(0, |b| b.port()),
        uptime / 86_400,
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        s.db.path().display(),
    );
}

fn clients(ctx: &Ctx<'_>, text: &mut String) {
    let c = &ctx.server.clients;
    let _ = write!(
        text,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n\
         tinykv_request_memory_bytes:{}\r\ntinykv_request_memory_limit:{}\r\n\
         tinykv_reply_memory_bytes:{}\r\ntinykv_reply_memory_limit:{}\r\n",
        c.count(),
        c.max(),
        ctx.server.budget.used(),
        ctx.server.budget.total(),
        ctx.server.replies.queued(),
        ctx.server.replies.limit(),
    );
}

fn persistence(ctx: &Ctx<'_>, stats: &Stats, text: &mut String) {
    let s = ctx.server;
    let status = s.compactor.status();
    let secs = |t: std::time::SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let last_at = stats.last_compaction.map_or(0, secs);
    let (last_status, last_ms, before, after) = match &status.last {
        Some(last) => match &last.outcome {
            Ok(r) => (
                "ok",
                r.elapsed.as_millis() as i64,
                r.bytes_before,
                r.bytes_after,
            ),
            Err(_) => ("err", -1, 0, 0),
        },
        None => ("ok", -1, 0, 0),
    };
    let saved_at = match last_at {
        0 => secs(s.started_at),
        t => t,
    };
    let sync = match s.settings.sync {
        SyncMode::Always => "always",
        SyncMode::Never => "never",
    };
    let _ = write!(
        text,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\n\
         rdb_bgsave_in_progress:0\r\nrdb_last_save_time:{saved_at}\r\n\
         rdb_last_bgsave_status:ok\r\naof_enabled:1\r\naof_rewrite_in_progress:{}\r\n\
         aof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:{}\r\n\
         aof_last_bgrewrite_status:{last_status}\r\naof_last_write_status:ok\r\n\
         tinykv_sync:{sync}\r\ntinykv_compactions:{}\r\ntinykv_compactions_failed:{}\r\n\
         tinykv_last_compaction_time:{last_at}\r\ntinykv_last_compaction_ms:{last_ms}\r\n\
         tinykv_last_compaction_bytes_before:{before}\r\n\
         tinykv_last_compaction_bytes_after:{after}\r\ntinykv_total_bytes:{}\r\n\
         tinykv_live_bytes:{}\r\ntinykv_dead_bytes:{}\r\ntinykv_segments:{}\r\n",
        u8::from(status.running),
        if last_ms < 0 { -1 } else { last_ms / 1000 },
        status.done,
        status.failed,
        stats.total_bytes,
        stats.live_bytes,
        stats.dead_bytes,
        stats.segments,
    );
}

fn stats(ctx: &Ctx<'_>, text: &mut String) {
    let s = ctx.server;
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    let _ = write!(
        text,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         rejected_connections:{}\r\n",
        s.clients.received.load(relaxed),
        s.commands.load(relaxed),
        s.clients.rejected.load(relaxed),
    );
}

/// A master without replicas, as tools expect to read it: tinykv does not
/// replicate, but answers SYNC and PSYNC with a snapshot (snapshot.rs), at
/// offset 0.
fn replication(ctx: &Ctx<'_>, text: &mut String) {
    let _ = write!(
        text,
        "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\
         master_failover_state:no-failover\r\nmaster_replid:{}\r\n\
         master_replid2:0000000000000000000000000000000000000000\r\n\
         master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n\
         repl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
        ctx.server.replid()
    );
}

/// `db0:keys=…,expires=…,avg_ttl=0`: the live keys, and how many of them
/// expire. Redis's avg_ttl is an estimate from sampling, which its docs
/// say may be 0; tinykv does not estimate it.
fn keyspace(stats: &Stats, text: &mut String) {
    let (keys, expires) = (stats.keys, stats.expiring);
    text.push_str("# Keyspace\r\n");
    // Redis leaves an empty database out.
    if keys > 0 {
        let _ = write!(text, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
}
