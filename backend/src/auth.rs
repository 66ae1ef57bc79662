//! Optional authentication: HS256 JSON Web Tokens.
//!
//! With `AUTH_JWT_SECRET` set, every connection must carry a token (`?token=` — browsers
//! cannot set headers on a WebSocket — or `Authorization: Bearer`) whose `sub` is the client
//! id, whose `exp` has not passed, and whose optional `channels` claim lists the channel.
//! Only HS256 is accepted: the algorithm comes from our configuration, never from the token.
//!
//! Two secrets verify during a rotation (`AUTH_JWT_PREVIOUS_SECRET` beside the current one);
//! only the current one issues. `exp` and `nbf` are read with a clock leeway
//! (`AUTH_CLOCK_LEEWAY_SECS`), since the issuer's clock and ours never agree exactly.
//!
//! HS256 is written out here rather than taken from a JWT crate: it is one HMAC over two
//! base64 parts, the checks that matter (`sub`, `channels`, the leeway, two keys) are ours
//! either way, and a crate would bring its own crypto backend and defaults (accepted
//! algorithms, required claims) to keep pinned, for no check this file lacks.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use protocol::{ChannelId, ClientId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted: HS256 with a short key can be brute-forced offline.
pub const MIN_SECRET_LEN: usize = 32;

/// Leeway on `exp` and `nbf` unless `AUTH_CLOCK_LEEWAY_SECS` says otherwise.
pub const DEFAULT_CLOCK_LEEWAY_SECS: u64 = 30;

/// Why a configured signing secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must be at least {MIN_SECRET_LEN} bytes")]
    TooShort,
}

/// The one way a signing secret is read, by the backend and by `chat-token` alike, so a
/// token one mints is one the other accepts. Surrounding whitespace is not part of the
/// secret: a value from a file or a secret manager often ends in a newline. Nothing (or only
/// whitespace) means no authentication.
pub fn authority_from_secret(raw: Option<&str>) -> Result<Option<TokenAuthority>, SecretError> {
    Ok(read_secret(raw)?.map(|secret| TokenAuthority::new(secret.as_bytes())))
}

/// A secret as [`authority_from_secret`] reads it, for the previous secret of a rotation.
pub fn read_secret(raw: Option<&str>) -> Result<Option<&str>, SecretError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(secret) if secret.len() < MIN_SECRET_LEN => Err(SecretError::TooShort),
        Some(secret) => Ok(Some(secret)),
    }
}

/// The token in an `Authorization` header value of the Bearer scheme. The scheme's name is
/// case-insensitive (RFC 7235 §2.1): `bearer` and `BEARER` are the same scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// Why a token was refused. Deliberately coarse in what it tells a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a token is required (?token= or Authorization: Bearer)")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not HS256")]
    WrongAlgorithm,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued for another client id")]
    WrongClient,
    #[error("the token does not grant this channel")]
    ChannelNotGranted,
}

/// The claims this service reads and issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The client id the token holder may connect as.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// When present, the only channels the holder may join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// The holder's display name, as the issuer vouches for it; checked where it is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Issues with the current secret; verifies with it or, during a rotation, the previous one.
#[derive(Clone)]
pub struct TokenAuthority {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
    /// Seconds a token is still taken after its `exp`, and already before its `nbf`.
    leeway: u64,
}

impl std::fmt::Debug for TokenAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuthority")
            .field("current", &"<redacted>")
            .field("previous", &self.previous.as_ref().map(|_| "<redacted>"))
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl TokenAuthority {
    /// One secret and no leeway: what `chat-token` and tests need. The backend's settings
    /// add the rest.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            current: secret.to_vec(),
            previous: None,
            leeway: 0,
        }
    }

    /// Also accepts tokens signed with `secret`, the one being rotated out.
    pub fn with_previous(mut self, secret: &[u8]) -> Self {
        self.previous = Some(secret.to_vec());
        self
    }

    /// Reads `exp` and `nbf` with `secs` of tolerance for clocks that disagree.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    fn mac(key: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        <HmacSha256 as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// Signs `claims` with the current secret (for `chat-token` and for tests).
    pub fn issue(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let mut mac = Self::mac(&self.current);
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// Checks `token` as [`verify`](Self::verify) does, now.
    pub fn verify_now(
        &self,
        token: &str,
        client: &ClientId,
        channel: &ChannelId,
    ) -> Result<Claims, AuthError> {
        self.verify(token, client, channel, unix_now())
    }

    /// Checks that `token` lets `client` join `channel` at `now` (seconds since the epoch).
    pub fn verify(
        &self,
        token: &str,
        client: &ClientId,
        channel: &ChannelId,
        now: u64,
    ) -> Result<Claims, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| AuthError::Malformed)
        };
        let header: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| AuthError::Malformed)?;
        if header.alg != "HS256" {
            return Err(AuthError::WrongAlgorithm);
        }
        // What was signed: everything before the last dot.
        let signed = token.rsplit_once('.').map_or("", |(signed, _)| signed);
        let signature = decode(signature)?;
        let signed_with = |key: &[u8]| {
            let mut mac = Self::mac(key);
            mac.update(signed.as_bytes());
            mac.verify_slice(&signature).is_ok()
        };
        if !(signed_with(&self.current) || self.previous.as_deref().is_some_and(signed_with)) {
            return Err(AuthError::BadSignature);
        }
        let claims: Claims =
            serde_json::from_slice(&decode(payload)?).map_err(|_| AuthError::Malformed)?;
        if claims.exp.saturating_add(self.leeway) <= now {
            return Err(AuthError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(AuthError::NotYetValid);
        }
        if claims.sub != client.as_str() {
            return Err(AuthError::WrongClient);
        }
        if let Some(channels) = &claims.channels
            && !channels.iter().any(|c| c == channel.as_str())
        {
            return Err(AuthError::ChannelNotGranted);
        }
        Ok(claims)
    }

    /// When a connection holding `claims`, just verified, must end unless refreshed: at
    /// `exp` on this clock, as the page expects; but a token taken within the leeway after its
    /// `exp` keeps the rest of the leeway instead of ending the connection at once.
    pub fn holds_until(&self, claims: &Claims) -> u64 {
        self.holds_until_at(claims, unix_now())
    }

    fn holds_until_at(&self, claims: &Claims, now: u64) -> u64 {
        if claims.exp > now {
            claims.exp
        } else {
            claims.exp.saturating_add(self.leeway)
        }
    }
}

/// Seconds since the Unix epoch (0 on a clock set before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn ids() -> (ClientId, ChannelId) {
        (
            ClientId::parse("alice").unwrap(),
            ChannelId::parse("room").unwrap(),
        )
    }

    fn claims() -> Claims {
        Claims {
            sub: "alice".into(),
            exp: NOW + 60,
            nbf: None,
            channels: Some(vec!["room".into(), "other".into()]),
            name: None,
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc ", " bEaReR abc"] {
            assert_eq!(bearer_token(header), Some("abc"), "{header:?}");
        }
        for header in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "abc"] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    #[test]
    fn a_secret_is_read_without_its_surrounding_whitespace() {
        let secret = "0123456789abcdef0123456789abcdef";
        let (client, channel) = ids();
        let padded = authority_from_secret(Some(&format!("  {secret}\n")))
            .unwrap()
            .unwrap();
        let token = TokenAuthority::new(secret.as_bytes()).issue(&claims());
        assert_eq!(padded.verify(&token, &client, &channel, NOW), Ok(claims()));
        assert!(authority_from_secret(None).unwrap().is_none());
        assert!(authority_from_secret(Some(" \n")).unwrap().is_none());
        // Whitespace does not count towards the minimum length.
        let short = format!("{}\n", &secret[1..]);
        assert_eq!(
            authority_from_secret(Some(&short)).err(),
            Some(SecretError::TooShort)
        );
    }

    #[test]
    fn a_token_it_issued_verifies() {
        let authority = TokenAuthority::new(b"0123456789abcdef0123456789abcdef");
        let (client, channel) = ids();
        let token = authority.issue(&claims());
        assert_eq!(
            authority.verify(&token, &client, &channel, NOW),
            Ok(claims())
        );
    }

    #[test]
    fn refuses_what_it_must() {
        let authority = TokenAuthority::new(b"0123456789abcdef0123456789abcdef");
        let other = TokenAuthority::new(b"another secret of the right length!!");
        let (client, channel) = ids();
        let token = authority.issue(&claims());
        let check = |t: &str, now| authority.verify(t, &client, &channel, now);
        assert_eq!(check(&token, NOW + 60), Err(AuthError::Expired));
        assert_eq!(
            check(&other.issue(&claims()), NOW),
            Err(AuthError::BadSignature)
        );
        assert_eq!(check("a.b", NOW), Err(AuthError::Malformed));
        assert_eq!(check("", NOW), Err(AuthError::Malformed));
        // Tampering with the payload breaks the signature.
        let mut forged = claims();
        forged.sub = "mallory".into();
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(check(&tampered, NOW), Err(AuthError::BadSignature));
        // `alg: none` is never accepted.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            parts[1]
        );
        assert_eq!(check(&none, NOW), Err(AuthError::WrongAlgorithm));
        let bob = ClientId::parse("bob").unwrap();
        assert_eq!(
            authority.verify(&token, &bob, &channel, NOW),
            Err(AuthError::WrongClient)
        );
        let elsewhere = ChannelId::parse("elsewhere").unwrap();
        assert_eq!(
            authority.verify(&token, &client, &elsewhere, NOW),
            Err(AuthError::ChannelNotGranted)
        );
        let mut later = claims();
        later.nbf = Some(NOW + 10);
        assert_eq!(
            check(&authority.issue(&later), NOW),
            Err(AuthError::NotYetValid)
        );
    }

    #[test]
    fn the_previous_secret_verifies_but_only_the_current_one_issues() {
        let current = b"0123456789abcdef0123456789abcdef";
        let previous = b"the secret being rotated out, 32+";
        let authority = TokenAuthority::new(current).with_previous(previous);
        let (client, channel) = ids();
        let old = TokenAuthority::new(previous).issue(&claims());
        assert_eq!(authority.verify(&old, &client, &channel, NOW), Ok(claims()));
        let issued = authority.issue(&claims());
        assert_eq!(
            TokenAuthority::new(current).verify(&issued, &client, &channel, NOW),
            Ok(claims())
        );
        let unknown = TokenAuthority::new(b"neither of the two secrets, 32+ b").issue(&claims());
        assert_eq!(
            authority.verify(&unknown, &client, &channel, NOW),
            Err(AuthError::BadSignature)
        );
        assert!(!format!("{authority:?}").contains("0123"), "{authority:?}");
    }

    #[test]
    fn the_leeway_stretches_exp_and_nbf_both_ways() {
        let authority = TokenAuthority::new(b"0123456789abcdef0123456789abcdef").with_leeway(30);
        let (client, channel) = ids();
        let check = |c: &Claims, now| authority.verify(&authority.issue(c), &client, &channel, now);
        let exp = claims().exp;
        assert!(check(&claims(), exp + 29).is_ok());
        assert_eq!(check(&claims(), exp + 30), Err(AuthError::Expired));
        let later = Claims {
            nbf: Some(NOW + 30),
            ..claims()
        };
        assert!(check(&later, NOW).is_ok());
        assert_eq!(check(&later, NOW - 1), Err(AuthError::NotYetValid));
        // A live token ends the connection at its exp; one taken past it, when the leeway does.
        assert_eq!(authority.holds_until_at(&claims(), NOW), exp);
        assert_eq!(authority.holds_until_at(&claims(), exp + 10), exp + 30);
    }

    #[test]
    fn the_name_claim_is_carried_and_tokens_without_it_still_read() {
        let authority = TokenAuthority::new(b"0123456789abcdef0123456789abcdef");
        let (client, channel) = ids();
        let named = Claims {
            name: Some("Zoë 🌻".into()),
            ..claims()
        };
        let token = authority.issue(&named);
        assert_eq!(authority.verify(&token, &client, &channel, NOW), Ok(named));
        let payload = token.split('.').nth(1).unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert!(json.contains(r#""name":"Zoë 🌻""#), "{json}");
        let bare = authority.issue(&claims());
        let payload = bare.split('.').nth(1).unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert!(!json.contains("name"), "{json}");
    }
}
