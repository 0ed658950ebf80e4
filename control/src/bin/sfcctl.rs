//! sfcctl: the operator CLI of sfcd. Everything lives in
//! `sfc_control::cli`; this only binds it to the process.

use std::io::IsTerminal;

fn main() {
    let tty = std::io::stdout().is_terminal();
    let code = sfc_control::cli::run_with(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        tty,
    );
    std::process::exit(code);
}
