//! Prints the summary of one ELF file: `cargo run --release --example dump -- FILE [FUNCTION]`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read");
    let elf = dockergate_elf::parse_elf(&data).expect("elf");
    let t = std::time::Instant::now();
    let s = dockergate_analysis::analyze_object(&data, &elf).expect("analysis");
    eprintln!("{:?} in {:?}", s.stats, t.elapsed());
    // DG_COMPLETE=name,name…: complete those functions as the pipeline does on request.
    let s = match std::env::var("DG_COMPLETE") {
        Ok(names) => {
            let funcs: Vec<u32> = (0..s.functions.len() as u32)
                .filter(|&i| names.split(',').any(|n| n == s.function_name(i)))
                .collect();
            let t = std::time::Instant::now();
            let c = dockergate_analysis::complete_functions(&data, &elf, &s, &funcs)
                .expect("completion");
            eprintln!("completed {} function(s) in {:?}", funcs.len(), t.elapsed());
            c
        }
        Err(_) => s,
    };
    let unresolved: usize = s
        .functions
        .iter()
        .flat_map(|f| &f.syscalls)
        .filter(|x| x.number.unknown)
        .count();
    eprintln!(
        "unresolved sites {unresolved}, data_addr_taken {}, exports {}",
        s.data_addr_taken.len(),
        s.exports.len()
    );
    if std::env::var_os("DG_FACTS").is_some() {
        // One line per function: what reachability reads (for comparing analysis modes).
        for (i, f) in s.functions.iter().enumerate() {
            let calls: Vec<String> = f.calls.iter().map(|c| format!("{:?}", c.target)).collect();
            println!(
                "{} calls={:?} taken={:?} syms={:?} refs={:?}",
                s.function_name(i as u32),
                calls,
                f.addr_taken,
                f.symbols_taken,
                f.data_refs
            );
        }
    }
    if let Ok(w) = std::env::var("DG_GLOBAL") {
        let a = u64::from_str_radix(&w, 16).expect("hex");
        println!("in globals: {:?}", s.globals.iter().find(|g| g.0 == a));
        for (i, f) in s.functions.iter().enumerate() {
            for st in f.global_stores.iter().filter(|st| st.addr == a) {
                println!("  stored by {}: {:?}", s.function_name(i as u32), st);
            }
        }
    }
    if let Ok(w) = std::env::var("DG_WHO") {
        let a = u64::from_str_radix(&w, 16).expect("hex");
        let idx = s.function_at(a).expect("in a function");
        println!(
            "function {} data_taken={} exported={:?} init={}",
            s.function_name(idx),
            s.data_addr_taken.contains(&idx),
            s.exports.iter().filter(|e| e.1 == idx).collect::<Vec<_>>(),
            s.init_fini.contains(&idx)
        );
        for (r, reg) in s.regions.iter().enumerate() {
            if reg.functions.contains(&idx) {
                println!(
                    "  stored in region {r} [{:x}-{:x}) always_live={} ({} functions)",
                    reg.start,
                    reg.end,
                    reg.always_live,
                    reg.functions.len()
                );
                for (j, f) in s.functions.iter().enumerate() {
                    if f.data_refs.contains(&(r as u32)) {
                        println!("    region referenced by {}", s.function_name(j as u32));
                    }
                }
                for (q, other) in s.regions.iter().enumerate() {
                    if other.regions.contains(&(r as u32)) {
                        println!(
                            "    region pointed to by region {q} [{:x}-{:x})",
                            other.start, other.end
                        );
                    }
                }
            }
        }
        for (j, f) in s.functions.iter().enumerate() {
            if f.addr_taken.contains(&idx) {
                println!("  address taken in {}", s.function_name(j as u32));
            }
            for c in &f.calls {
                if c.target == dockergate_analysis::CallTarget::Local(idx) {
                    println!(
                        "  called from {} at {:x}",
                        s.function_name(j as u32),
                        c.addr
                    );
                }
            }
        }
        return;
    }
    for (i, f) in s.functions.iter().enumerate() {
        let name = s.function_name(i as u32);
        if args.len() > 2 && !name.contains(&args[2]) {
            continue;
        }
        if args.len() <= 2 && f.syscalls.is_empty() {
            continue;
        }
        println!("{name} [{:x}-{:x}] {:?}", f.entry, f.end, f.origin);
        for sc in &f.syscalls {
            println!("  syscall @{:x}: {:?}", sc.addr, sc.number);
        }
        if args.len() > 2 {
            for c in &f.calls {
                println!(
                    "  call @{:x} -> {:?} tail={} args={:?}",
                    c.addr,
                    c.target,
                    c.tail,
                    c.args()
                );
            }
            println!(
                "  addr_taken {:?} symbols_taken {:?}",
                f.addr_taken, f.symbols_taken
            );
        }
    }
}

#[allow(dead_code)]
fn _unused() {}
