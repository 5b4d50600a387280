// throwaway profiling driver (not committed)
fn main() {
    let root = std::path::Path::new("/work/main");
    let bytes = std::fs::read("/work/shared/schemas/posthog-2025.json").unwrap();
    let public = std::fs::read(root.join("schema/public-api.yaml")).unwrap();
    let throttle = std::fs::read_to_string(root.join("schema/throttle-scopes.toml")).unwrap();
    let main = posthog_codegen::Input {
        source: "x".into(),
        bytes: &bytes,
    };
    let public = posthog_codegen::Input {
        source: "schema/public-api.yaml".into(),
        bytes: &public,
    };
    let overlays = posthog_codegen::overlay_files::read_overlays(root).unwrap();
    let overlay_inputs = posthog_codegen::overlay_files::inputs(&overlays);
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let out = posthog_codegen::generate_with_overlays(
            &main,
            &overlay_inputs,
            Some(&public),
            Some(&throttle),
            "cargo xtask regenerate",
        )
        .unwrap();
        let e = t.elapsed().as_secs_f64();
        best = best.min(e);
        drop(out);
    }
    eprintln!("best {:.1} ms", best * 1000.0);
}
