//! The report's receiver categories (exchange, mixer, bridge, defi, sanctioned, other), from the
//! many category names label sources use.

pub use ifr_reports::model::Category;

/// ifr's report category for a label's category.
pub fn report_category(category: &str) -> Category {
    match category {
        "exchange" => Category::Exchange,
        "mixing_service" | "mixer" => Category::Mixer,
        "bridge" => Category::Bridge,
        "defi" | "defi_dex" | "defi_lending" | "defi_bridge" | "dex" => Category::Defi,
        "sanctioned" => Category::Sanctioned,
        _ => Category::Other,
    }
}
