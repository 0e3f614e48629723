//! Version-4 UUID text from 16 random bytes: scripts hand them out (`uuid()`) and the demo target
//! uses them as ids. Each caller brings its own randomness (a user's seedable RNG, or the thread's).

/// Format `bytes` as a random (version 4, RFC 4122 variant) UUID.
pub fn v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_version_and_variant() {
        let u = super::v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(super::v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    }
}
