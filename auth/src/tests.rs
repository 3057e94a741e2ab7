use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};

use super::*;
use crate::signer::SignerError;

const ISS: &str = "https://accounts.test";
const AUD: &str = "platform";

fn signer() -> TokenSigner {
    TokenSigner::ephemeral(ISS, AUD)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_signed_token_verifies_with_its_jwks() {
    let signer = signer();
    let (token, claims) = signer
        .sign("user-1", chrono::Duration::minutes(15))
        .expect("sign");
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    assert_eq!(verifier.verify(&token).await, Ok(claims.clone()));
    assert_eq!(
        verifier.verify_header(&format!("bearer {token}")).await,
        Ok(claims)
    );
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let signer = signer();
    let (token, _) = signer
        .sign("u", chrono::Duration::minutes(-5))
        .expect("sign");
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_token_from_another_key_is_rejected() {
    let (token, _) = signer()
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    let verifier = TokenVerifier::from_jwks(&signer().jwks(), ISS, AUD);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::UnknownKey));

    // Same kid as the trusted key but signed by a different key: the signature fails.
    let trusted = signer();
    let forger = signer();
    let (forged, _) = forger
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    let mut parts: Vec<&str> = forged.split('.').collect();
    let header =
        b64(format!(r#"{{"typ":"JWT","alg":"EdDSA","kid":"{}"}}"#, trusted.kid()).as_bytes());
    parts[0] = &header;
    let verifier = TokenVerifier::from_jwks(&trusted.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&parts.join(".")).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_rejected() {
    let other = TokenSigner::ephemeral("https://evil.test", AUD);
    let (token, _) = other.sign("u", chrono::Duration::minutes(5)).expect("sign");
    let verifier = TokenVerifier::from_jwks(&other.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::WrongIssuerOrAudience)
    );
    let other = TokenSigner::ephemeral(ISS, "someone-else");
    let (token, _) = other.sign("u", chrono::Duration::minutes(5)).expect("sign");
    let verifier = TokenVerifier::from_jwks(&other.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::WrongIssuerOrAudience)
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let signer = signer();
    let header = b64(format!(r#"{{"alg":"none","kid":"{}"}}"#, signer.kid()).as_bytes());
    let exp = chrono::Utc::now().timestamp() + 600;
    let body = b64(format!(
        r#"{{"sub":"admin","iss":"{ISS}","aud":"{AUD}","exp":{exp},"iat":0,"jti":"x"}}"#
    )
    .as_bytes());
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        let result = verifier.verify(&token).await;
        assert!(
            matches!(result, Err(AuthError::BadAlgorithm | AuthError::Malformed)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_rejected() {
    let signer = signer();
    let jwks = signer.jwks();
    let public_x = jwks.keys[0].x.clone();
    let claims = Claims {
        sub: "admin".into(),
        iss: ISS.into(),
        aud: AUD.into(),
        exp: chrono::Utc::now().timestamp() + 600,
        iat: 0,
        jti: "x".into(),
        extra: Default::default(),
    };
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(signer.kid().to_owned());
    for secret in [
        public_x.as_bytes().to_vec(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&public_x)
            .expect("b64"),
    ] {
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))
            .expect("encode");
        let verifier = TokenVerifier::from_jwks(&jwks, ISS, AUD);
        assert_eq!(verifier.verify(&token).await, Err(AuthError::BadAlgorithm));
    }
}

#[tokio::test]
async fn garbage_is_malformed() {
    let verifier = TokenVerifier::from_jwks(&signer().jwks(), ISS, AUD);
    for token in ["", "abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
        let result = verifier.verify(token).await;
        assert!(result.is_err(), "{token:?} was accepted");
    }
    assert_eq!(
        verifier.verify_header("Basic dXNlcjpwYXNz").await,
        Err(AuthError::Malformed)
    );
}

#[tokio::test]
async fn tampered_claims_break_the_signature() {
    let signer = signer();
    let (token, _) = signer
        .sign("user-1", chrono::Duration::minutes(5))
        .expect("sign");
    let parts: Vec<&str> = token.split('.').collect();
    let exp = chrono::Utc::now().timestamp() + 600;
    let body = b64(format!(
        r#"{{"sub":"admin","iss":"{ISS}","aud":"{AUD}","exp":{exp},"iat":0,"jti":"x"}}"#
    )
    .as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], body, parts[2]);
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&tampered).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn keys_persist_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keys/jwt.pem");
    let first = TokenSigner::load_or_generate(&path, ISS, AUD).expect("generate");
    let second = TokenSigner::load_or_generate(&path, ISS, AUD).expect("load");
    assert_eq!(first.jwks(), second.jwks());
    let (token, _) = first.sign("u", chrono::Duration::minutes(5)).expect("sign");
    let verifier = TokenVerifier::from_jwks(&second.jwks(), ISS, AUD);
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn remote_jwks_is_fetched_and_cached() {
    let signer = signer();
    let jwks = signer.jwks();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let verifier = TokenVerifier::remote(&format!("http://{addr}/jwks"), ISS, AUD);
    let (token, _) = signer
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    for _ in 0..3 {
        assert!(verifier.verify(&token).await.is_ok());
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Unknown kids do not trigger a refetch storm.
    let (foreign, _) = TokenSigner::ephemeral(ISS, AUD)
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    for _ in 0..5 {
        assert_eq!(verifier.verify(&foreign).await, Err(AuthError::UnknownKey));
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_jwks_is_reported_not_accepted() {
    let verifier = TokenVerifier::remote("http://127.0.0.1:9/jwks", ISS, AUD);
    let (token, _) = signer()
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::KeysUnavailable)
    );
}

/// Rotation: the next key is published before it signs, the previous one stays published
/// until its tokens have expired; a token verifies exactly while its key is published.
#[tokio::test]
async fn tokens_verify_across_a_key_rotation_while_their_key_is_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old_path, new_path) = (dir.path().join("old.pem"), dir.path().join("new.pem"));
    let old = TokenSigner::load_or_generate(&old_path, ISS, AUD).expect("old key");
    let new = TokenSigner::load_or_generate(&new_path, ISS, AUD).expect("new key");
    let (old_token, old_claims) = old.sign("u1", chrono::Duration::minutes(15)).expect("sign");

    // Phase 1: the old key signs, the new one is published already.
    let phase1 = TokenSigner::load_or_generate(&old_path, ISS, AUD)
        .and_then(|s| s.also_publishing(std::slice::from_ref(&new_path)))
        .expect("phase 1");
    let kids: Vec<String> = phase1.jwks().keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec![old.kid().to_owned(), new.kid().to_owned()]);

    // Phase 2: the new key signs; the old one is still published, so its tokens verify.
    let phase2 = TokenSigner::load_or_generate(&new_path, ISS, AUD)
        .and_then(|s| s.also_publishing(&[old_path.clone(), new_path.clone()]))
        .expect("phase 2");
    assert_eq!(
        phase2.jwks().keys.len(),
        2,
        "the signing key is listed once"
    );
    let verifier = TokenVerifier::from_jwks(&phase2.jwks(), ISS, AUD);
    assert_eq!(verifier.verify(&old_token).await, Ok(old_claims));
    let (new_token, new_claims) = phase2
        .sign("u1", chrono::Duration::minutes(15))
        .expect("sign");
    assert_eq!(verifier.verify(&new_token).await, Ok(new_claims));

    // Phase 3: the old key is gone; its tokens are refused.
    let verifier = TokenVerifier::from_jwks(&new.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&old_token).await,
        Err(AuthError::UnknownKey)
    );

    let missing = dir.path().join("missing.pem");
    assert!(matches!(
        new.also_publishing(&[missing]),
        Err(SignerError::Io { .. })
    ));
}

mod hostile {
    //! Generated tokens against the verifier: nothing panics, and only the untouched token
    //! verifies (`PROPTEST_CASES` makes the run longer).
    use super::*;
    use proptest::prelude::*;

    fn verify(verifier: &TokenVerifier, token: &str) -> Result<Claims, AuthError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(verifier.verify(token))
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_strings_are_refused_with_a_code(token in "\\PC{0,300}") {
            let signer = signer();
            let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
            let error = verify(&verifier, &token).expect_err("not a token of ours");
            prop_assert!(!error.code().is_empty());
        }

        #[test]
        fn a_changed_byte_breaks_a_token(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let signer = signer();
            let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
            let (token, _) = signer.sign("u1", chrono::Duration::minutes(5)).expect("sign");
            let mut bytes = token.clone().into_bytes();
            let i = at.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            // Base64url padding bits can change without changing the decoded bytes.
            if let Ok(claims) = verify(&verifier, &changed) {
                prop_assert_eq!(claims.sub, "u1");
                prop_assert!(token.split('.').count() == 3);
            }
        }

        #[test]
        fn forged_headers_and_claims_are_refused(header in super::hostile_json(), claims in super::hostile_json()) {
            let signer = signer();
            let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
            let forged = format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()), b64(b"sig"));
            let error = verify(&verifier, &forged).expect_err("unsigned");
            prop_assert!(!error.code().is_empty());
        }
    }
}

/// JSON values for forged token parts, some shaped like real headers and claims.
fn hostile_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let alg = prop_oneof![
        Just("none"),
        Just("HS256"),
        Just("EdDSA"),
        Just("RS256"),
        Just("")
    ];
    prop_oneof![
        (alg, "\\PC{0,12}")
            .prop_map(|(alg, kid)| serde_json::json!({ "alg": alg, "kid": kid, "typ": "JWT" })),
        (any::<i64>(), "\\PC{0,12}").prop_map(
            |(exp, sub)| serde_json::json!({ "sub": sub, "exp": exp, "iss": ISS, "aud": AUD })
        ),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,30}".prop_map(serde_json::Value::from),
    ]
}
