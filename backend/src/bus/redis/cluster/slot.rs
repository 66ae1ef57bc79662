//! Which of the 16,384 cluster slots a key belongs to (the Redis Cluster specification:
//! CRC16/XMODEM of the key, or of its `{hash tag}` when it has a non-empty one, mod 16384).

pub const SLOTS: u16 = 16384;

pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) % SLOTS
}

/// The part of the key that is hashed: the text between the first `{` and the next `}`,
/// if that is not empty; otherwise the whole key.
fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|b| *b == b'{')
        && let Some(len) = key[open + 1..].iter().position(|b| *b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_specification_examples() {
        // The specification's check value for CRC16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        // Values `CLUSTER KEYSLOT` gives.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}".as_slice()));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
    }

    #[test]
    fn every_name_of_a_channel_shares_its_slot() {
        assert_eq!(
            key_slot(b"{chat:room-1}:log"),
            key_slot(b"{chat:room-1}:events")
        );
    }
}
