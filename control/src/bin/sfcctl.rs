//! sfcctl: the operator CLI of sfcd. Everything lives in
//! `sfc_control::cli`; this only binds it to the process.

fn main() {
    let code = sfc_control::cli::run(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
