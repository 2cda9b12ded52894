//! Whether a volume's coordinates can carry the MNI atlas overlay, judged
//! from its NIfTI transform codes.

/// A warning when both transforms are unknown or scanner space (codes 0
/// and 1): the atlas overlay assumes MNI coordinates. Aligned (2), MNI (4)
/// and other-template (5) codes pass; registered templates often use 2.
pub fn space_warning(sform_code: i16, qform_code: i16) -> Option<String> {
    let scanner = |c: i16| c <= 1;
    if scanner(sform_code) && scanner(qform_code) {
        Some(format!(
            "scanner space (sform code {sform_code}, qform code {qform_code}): the AAL3 overlay assumes MNI152 coordinates"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::space_warning;

    #[test]
    fn only_scanner_or_unknown_space_on_both_transforms_warns() {
        assert!(space_warning(4, 0).is_none());
        assert!(space_warning(0, 5).is_none());
        assert!(space_warning(2, 0).is_none(), "aligned (templates) passes");
        let w = space_warning(1, 0).unwrap();
        assert!(
            w.contains("sform code 1") && w.contains("qform code 0") && w.contains("MNI"),
            "{w}"
        );
        assert!(space_warning(0, 0).is_some());
    }
}
