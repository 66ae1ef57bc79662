//! Guest tokens: HS256 JSON Web Tokens the backend accepts, minted with its secret.
//!
//! The claims are the backend's (`sub`, `exp`, `channels`, `name`, see `backend::auth`),
//! signed as it signs them; the frontend's tests check a token against the backend's own
//! verifier. The secret is read by the same rule: trimmed, at least 32 bytes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

/// Shortest secret accepted, as the backend has it.
const MIN_SECRET_LEN: usize = 32;

/// Signs guest tokens with the backend's secret.
#[derive(Clone, PartialEq, Eq)]
pub struct GuestSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for GuestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestSigner { secret: <redacted> }")
    }
}

/// What a guest token says: who, where, as whom, until when.
#[derive(Debug, Serialize)]
pub struct GuestClaims<'a> {
    pub sub: &'a str,
    pub exp: u64,
    pub channels: [&'a str; 1],
    pub name: &'a str,
}

impl GuestSigner {
    /// `None` when no secret is set (or only whitespace).
    pub fn from_secret(raw: Option<&str>) -> Result<Option<Self>, &'static str> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(secret) if secret.len() < MIN_SECRET_LEN => {
                Err("AUTH_JWT_SECRET must be at least 32 bytes")
            }
            Some(secret) => Ok(Some(Self {
                secret: secret.as_bytes().to_vec(),
            })),
        }
    }

    pub fn sign(&self, claims: &GuestClaims<'_>) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_read_as_the_backend_reads_it() {
        assert_eq!(GuestSigner::from_secret(None), Ok(None));
        assert_eq!(GuestSigner::from_secret(Some(" \n")), Ok(None));
        assert!(GuestSigner::from_secret(Some("short")).is_err());
        let padded = GuestSigner::from_secret(Some(" 0123456789abcdef0123456789abcdef\n"));
        let signer = padded.unwrap().unwrap();
        assert!(!format!("{signer:?}").contains("0123"));
    }
}
