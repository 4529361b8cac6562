//! What Linux's `/proc` says about a process: CPU time, memory, open descriptors,
//! threads. One parser for the benchmarks, `axle ocr eval` and the load generator.

use std::time::Duration;

use anyhow::Context as _;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    pub cpu: Duration,
    pub rss_kib: u64,
    pub fds: u64,
    pub threads: u64,
}

/// The numeric fields of `/proc/PID/stat` after the command name, from index 0 (the
/// state): the name (field 2) may contain spaces and ')', so they follow the last ')'.
fn stat_fields(stat: &str) -> anyhow::Result<Vec<&str>> {
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/PID/stat format")?;
    Ok(rest.split_whitespace().collect())
}

fn stat_field(fields: &[&str], i: usize) -> anyhow::Result<u64> {
    fields
        .get(i)
        .context("short /proc/PID/stat")?
        .parse::<u64>()
        .context("non-numeric field in /proc/PID/stat")
}

/// User + system CPU time in a `/proc/PID/stat` text: utime (field 14, index 11 after
/// the name) + stime (index 12), in USER_HZ = 100 ticks per second on every mainstream
/// Linux ABI.
pub fn cpu_of_stat(stat: &str) -> anyhow::Result<Duration> {
    let f = stat_fields(stat)?;
    Ok(Duration::from_millis(
        (stat_field(&f, 11)? + stat_field(&f, 12)?) * 10,
    ))
}

/// A `kB` line of `/proc/PID/status`, e.g. `VmRSS:` or `VmHWM:`, in KiB.
pub fn kib_of_status(status: &str, key: &str) -> anyhow::Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .with_context(|| format!("no {key} in /proc/PID/status"))?
        .parse::<u64>()
        .with_context(|| format!("non-numeric {key} in /proc/PID/status"))
}

/// User + system CPU time of this process so far, in nanoseconds
/// (`CLOCK_PROCESS_CPUTIME_ID`, exited threads included): `/proc/self/stat` counts 10 ms
/// ticks, which a short benchmark round can fall between (it read 0 for a round whose
/// servers' threads alone had run 4 ms).
pub fn self_cpu() -> anyhow::Result<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Ok(Duration::new(
        u64::try_from(t.tv_sec).context("negative process CPU time")?,
        u32::try_from(t.tv_nsec).context("process CPU time nanoseconds out of range")?,
    ))
}

/// On-CPU time so far of this process's threads whose name starts with `prefix`, from
/// `/proc/self/task/*/schedstat` (nanoseconds, where `stat` counts 10 ms ticks): the
/// share of one runtime in a process that runs several. A thread that has exited is no
/// longer counted.
pub fn threads_cpu(prefix: &str) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")? {
        let dir = task.context("reading /proc/self/task")?.path();
        // A thread may end between the listing and the reads: it is simply not counted.
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        if let Ok(schedstat) = std::fs::read_to_string(dir.join("schedstat")) {
            total += on_cpu_of_schedstat(&schedstat)?;
        }
    }
    Ok(total)
}

/// The on-CPU time in a `/proc/.../schedstat` text: its first field, in nanoseconds.
pub fn on_cpu_of_schedstat(schedstat: &str) -> anyhow::Result<Duration> {
    let ns = schedstat
        .split_whitespace()
        .next()
        .context("empty schedstat")?
        .parse::<u64>()
        .context("non-numeric schedstat")?;
    Ok(Duration::from_nanos(ns))
}

/// The peak resident set of this process so far (VmHWM), in KiB.
pub fn self_peak_rss_kib() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    kib_of_status(&status, "VmHWM:")
}

/// Reads `/proc/<pid>`: CPU (utime + stime), VmRSS, open descriptors, threads.
pub fn read(pid: u32) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("no process {pid} (reading /proc/{pid}/stat)"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("reading /proc/{pid}/fd (same user needed)"))?
        .count();
    parse(&stat, &status, u64::try_from(fds).unwrap_or(u64::MAX))
}

/// The pure part of [`read`].
pub fn parse(stat: &str, status: &str, fds: u64) -> anyhow::Result<ProcSample> {
    // num_threads is field 20: index 17 after the name.
    let threads = stat_field(&stat_fields(stat)?, 17)?;
    Ok(ProcSample {
        cpu: cpu_of_stat(stat)?,
        rss_kib: kib_of_status(status, "VmRSS:")?,
        fds,
        threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_gives_nanoseconds_on_cpu() {
        assert_eq!(
            on_cpu_of_schedstat("123456789 2000 7\n").expect("parses"),
            Duration::from_nanos(123_456_789)
        );
        assert!(on_cpu_of_schedstat("").is_err());
        assert!(on_cpu_of_schedstat("x 1 2").is_err());
    }

    #[test]
    fn a_named_threads_cpu_is_counted_and_others_are_not() {
        // Busy for 50 ms of CPU, then parked until told to end, so that the thread is
        // still listed when it is read (an ended thread leaves /proc).
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (busy_tx, busy_rx) = std::sync::mpsc::channel::<()>();
        let live = std::thread::Builder::new()
            .name("procfs-test-b".to_owned())
            .spawn(move || {
                // Until its own CPU time says so: wall time on a loaded machine is not.
                let own = || {
                    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
                        .expect("own schedstat");
                    on_cpu_of_schedstat(&text).expect("parses")
                };
                while own() < Duration::from_millis(50) {
                    std::hint::black_box((0..1000u64).sum::<u64>());
                }
                busy_tx.send(()).expect("tells");
                let _ = done_rx.recv();
            })
            .expect("spawns");
        busy_rx.recv().expect("busy done");
        let counted = threads_cpu("procfs-test-b").expect("reads");
        assert!(counted >= Duration::from_millis(50), "{counted:?}");
        assert_eq!(
            threads_cpu("no-such-thread-name").expect("reads"),
            Duration::ZERO
        );
        done_tx.send(()).expect("ends");
        live.join().expect("joins");
    }

    #[test]
    fn proc_files_are_read_whatever_the_command_name() {
        let stat =
            "4242 (axle (up) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 150 30 0 0 20 0 7 0 100 0 0";
        let status = "Name:\taxle\nVmPeak:\t  9000 kB\nVmHWM:\t  90000 kB\nVmRSS:\t  81234 kB\nThreads:\t7\n";
        let s = parse(stat, status, 23).expect("parses");
        assert_eq!(s.cpu, Duration::from_millis(1800));
        assert_eq!(s.rss_kib, 81234);
        assert_eq!(s.threads, 7);
        assert_eq!(s.fds, 23);
        assert_eq!(kib_of_status(status, "VmHWM:").expect("hwm"), 90000);
        assert!(parse("garbage", status, 0).is_err());
        assert!(parse(stat, "VmPeak: 1 kB\n", 0).is_err());
        assert!(cpu_of_stat("1 (x) S 1").is_err());
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = read(std::process::id()).expect("own /proc");
        assert!(s.rss_kib > 0 && s.threads >= 1 && s.fds >= 3, "{s:?}");
        assert!(self_peak_rss_kib().expect("VmHWM") >= s.rss_kib / 2);
        assert!(self_cpu().is_ok());
    }
}
