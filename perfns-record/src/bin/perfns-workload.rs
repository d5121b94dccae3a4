//! `perfns-workload`: the exact workloads test containers run (see
//! `perfns_record::testing`).

fn main() -> std::process::ExitCode {
    perfns_record::testing::workload_main()
}
