//! The attachment kind every adapter derives from a MIME type, so a photo is
//! an `image` whichever channel carried it.

/// `image`, `video` or `audio` for those top-level MIME types (any case,
/// parameters and surrounding blanks ignored), else `file`, also when the
/// type is missing: the timeline only needs to know what it can preview.
pub fn kind_for_mime(mime: Option<&str>) -> &'static str {
    let top = mime
        .and_then(|m| m.split(['/', ';']).next())
        .map(str::trim)
        .unwrap_or_default();
    ["image", "video", "audio"]
        .into_iter()
        .find(|kind| top.eq_ignore_ascii_case(kind))
        .unwrap_or("file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_for_mime_cases() {
        let cases = [
            (Some("image/png"), "image"),
            (Some("IMAGE/JPEG"), "image"),
            (Some(" Video/quicktime "), "video"),
            (Some("audio/ogg; codecs=opus"), "audio"),
            (Some("audio"), "audio"),
            (Some("application/pdf"), "file"),
            (Some("text/plain"), "file"),
            (Some("imagery/x"), "file"),
            (Some("/image"), "file"),
            (Some(""), "file"),
            (Some("é/ü"), "file"),
            (None, "file"),
        ];
        for (mime, kind) in cases {
            assert_eq!(kind_for_mime(mime), kind, "{mime:?}");
        }
    }
}
