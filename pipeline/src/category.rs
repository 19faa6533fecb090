//! The report's receiver categories (exchange, mixer, bridge, defi, sanctioned, other), from the
//! many category names label sources use. Used by attribution and by the synthetic truth alike.

/// ifr's report category for a label's category.
pub fn report_category(category: &str) -> &'static str {
    match category {
        "exchange" => "exchange",
        "mixing_service" | "mixer" => "mixer",
        "bridge" => "bridge",
        "defi" | "defi_dex" | "defi_lending" | "defi_bridge" | "dex" => "defi",
        "sanctioned" => "sanctioned",
        _ => "other",
    }
}
