fn main() -> std::process::ExitCode {
    sfc_dataplane::daemon::main()
}
