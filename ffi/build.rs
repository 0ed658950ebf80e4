//! Generates the DPDK bindings and compiles bindgen's wrappers for DPDK's
//! `static inline` fast path (rx/tx burst, mbuf alloc/free, ...) with the
//! exact cflags DPDK was built for (`-march=corei7`, `-include rte_config.h`):
//! without them the inline memcpy helpers do not compile.

use std::env;
use std::path::PathBuf;

fn main() {
    let dpdk = match pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "sfc-ffi: pkg-config could not find libdpdk >= 22.11 ({e}).\n\
                 Install it with: apt-get install dpdk-dev libdpdk-dev pkg-config clang libclang-dev"
            );
            std::process::exit(1);
        }
    };
    let cflags = dpdk_cflags();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let wrappers_c = out.join("static_fns.c");

    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&cflags)
        .allowlist_function("rte_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*")
        .allowlist_function("sfc_.*")
        // rustc rejects these (packed + aligned, Debug in a packed struct);
        // sfcd never touches their fields.
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_generic_hdr")
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .wrap_static_fns(true)
        .wrap_static_fns_path(out.join("static_fns"))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate();
    let bindings = match bindings {
        Ok(b) => b,
        Err(e) => {
            eprintln!("sfc-ffi: bindgen failed: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = bindings.write_to_file(out.join("bindings.rs")) {
        eprintln!("sfc-ffi: cannot write bindings: {e}");
        std::process::exit(1);
    }

    let mut build = cc::Build::new();
    build
        .file(&wrappers_c)
        .file("src/shim.c")
        .include(env!("CARGO_MANIFEST_DIR"))
        .opt_level(3)
        // The wrappers are linked into executables, and librte_eal (which
        // defines the per-lcore TLS, e.g. the lcore id the mempool cache
        // uses) is loaded at start-up: initial-exec TLS avoids a
        // __tls_get_addr call on every mbuf alloc/free.
        .flag("-ftls-model=initial-exec")
        .warnings(false);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("sfc_dpdk_static_fns");

    // pkg-config already emitted the shared libraries; keep them linked even
    // if the linker thinks nothing uses a PMD.
    for path in &dpdk.link_paths {
        println!("cargo:rustc-link-search=native={}", path.display());
    }
    // rte_eth_from_rings lives in the ring PMD, which pkg-config does not
    // list (EAL loads PMDs as plugins); the in-process test ports need it.
    println!("cargo:rustc-link-lib=dylib=rte_net_ring");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=src/shim.c");
}

/// `pkg-config --cflags libdpdk`, split into arguments.
fn dpdk_cflags() -> Vec<String> {
    let output = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output();
    match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        _ => {
            eprintln!("sfc-ffi: `pkg-config --cflags libdpdk` failed");
            std::process::exit(1);
        }
    }
}
